"""Policy: what IT decides, from TOML layers to a decision for one file.

Owns the policy schema (`schema`), every key's description (`keys`), the layering of
built-in defaults < machine policy < user preferences with locks and last-known-good
(`layers`), validation with FILE:LINE messages (`validate`), the generated reference
(`docs`), the Windows registry policy (`registry`) and the pure decision
(`decide`: Report, Policy -> Decision). May import the shared bottom and `agent.inspect`
(for finding types and limits); nothing above it.
"""
