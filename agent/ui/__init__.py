"""What staff see: the tray icon and menu, notifications and the review window.

Owns the pure menu/icon/tooltip model (`menu`), the icons (`icons`), the pystray icon
(`tray`, the only module importing pystray) and the review window with its model
(`review`, `review_model`; the only modules importing tkinter). May import every package
below it (bottom, inspect, policy, vault, service, sanitize), never `agent.commands`.
"""
