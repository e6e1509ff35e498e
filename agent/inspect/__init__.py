"""The pure inspection engine: a bounded reader in, findings out.

Nothing in this package writes files, logs content or imports from the rest of `agent`
except `agent.model`, `agent.errors` and `agent.textsafe`.
"""
