"""Errors that end a command, each with the exit code the CLI returns.

Per-file problems are never exceptions: they are findings. These are for the things
that stop the agent or a command (a bad config, a missing path, a second agent).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_ERROR = 2


class AgentError(Exception):
    """A failure with a message meant for the person at the keyboard."""

    exit_code = EXIT_ERROR


class UsageError(AgentError):
    """The command line asked for something that cannot be done (e.g. a missing path)."""


class ConfigError(AgentError):
    """A policy file is invalid. `problems` holds every `FILE:LINE: key: what is wrong`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems) if self.problems else "invalid configuration")


class AlreadyRunningError(AgentError):
    """Another agent holds the lock for the same PHOTOGATE_HOME."""


class VaultError(AgentError):
    """A vault operation was refused (unknown id, tampered record, name clash...)."""
