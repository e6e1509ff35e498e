"""Sanitized copies: the picture's pixels re-encoded into a fresh file, nothing else kept.

Owns the trusted parent (`parent`: starts the child, checks what it returns, re-encodes)
and the resource-limited child (`child`: decodes one image and passes back only width,
height and raw pixels; run as its own `python -I` process, importing nothing of `agent`).
May import only the shared bottom and `agent.inspect`.
"""
