"""Errors nsbox raises to its callers (the CLI prints them as "nsbox: <message>").

KernelError (nsbox.kernel.errors) is an OSError carrying op/path/errno; the
classes here are for everything that is not a failed system call.
"""

from __future__ import annotations

from .kernel.errors import KernelError

__all__ = ["NsboxError", "ConfigError", "UserNamespaceUnavailable", "ContainerNotFound",
           "ContainerStateError", "ExecError", "KernelError"]


class NsboxError(Exception):
    """Base of nsbox's own errors; ``str(e)`` is the one line the CLI prints."""

    exit_code = 1


class ConfigError(NsboxError):
    """An invalid option or config value (names the option/JSON path and the value)."""


class UserNamespaceUnavailable(NsboxError):
    """The kernel refuses an unprivileged user namespace; the message says how to fix it."""


class ContainerNotFound(NsboxError):
    pass


class ContainerStateError(NsboxError):
    pass


class ExecError(NsboxError):
    """The container's command could not be executed: 127 (not found) or 126 (not executable)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
