"""The pure inspection engine: a bounded reader in, findings out.

Owns names, type sniffing, one walker per format (the JPEG family in `jpeg/`), the payload
classifier, the engine that joins them into a Report, and the plain words for each
finding code (`reasons`). Nothing in this package writes files or logs content, and it
imports nothing of `agent` but the shared bottom (`agent.model`, `agent.errors`,
`agent.textsafe`).
"""
