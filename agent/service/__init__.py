"""The agent loop: watch folders, judge each finished file, act, record, report.

Owns the watchdog observers and completion tracking (`watch`, the only module importing
watchdog), the per-file pipeline (`pipeline`), the worker loop with sweeps and policy
reloads (`loop`), the state database (`statedb`), audit events (`events`), the one-agent
lock (`lock`), the status snapshot (`state`) and the default folders per OS (`folders`).
May import the shared bottom, `agent.inspect`, `agent.policy` and `agent.vault`.
"""
