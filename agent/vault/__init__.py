"""The quarantine vault: files moved out of reach, recoverable byte for byte.

Owns the store (`store`: move in, list, delete, purge), encryption at rest (`crypto`), the
write-ahead journal and lock (`journal`), signed item records (`record`), where an item
came from (`origin`) and putting items back (`restore`). May import only the shared
bottom (`agent.model`, `agent.errors`, `agent.textsafe`, `agent.paths`, `agent.osmark`).
"""
