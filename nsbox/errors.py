"""Errors nsbox raises to its callers (the CLI prints them as "nsbox: <message>").

KernelError (nsbox.kernel.errors) is an OSError carrying op/path/errno; the
classes here are for everything that is not a failed system call.
"""

from __future__ import annotations

from .kernel.errors import Error, KernelError

__all__ = ["Error", "NsboxError", "ConfigError", "UserNamespaceUnavailable", "NotFound", "Conflict",
           "ContainerNotFound", "ContainerStateError", "ExecError", "KernelError", "ProcessError",
           "LimitWarning", "PoolClosed"]

NsboxError = Error  # the name the engine's modules use


class ConfigError(Error, ValueError):
    """An invalid option or config value (names the option/JSON path and the value)."""


class UserNamespaceUnavailable(NsboxError):
    """The kernel refuses an unprivileged user namespace; the message says how to fix it."""


class NotFound(Error):
    """No container (or image, network) of that name or id."""


class Conflict(Error):
    """The container is in the wrong state for the operation, or the name is taken."""


ContainerNotFound = NotFound
ContainerStateError = Conflict


class LimitWarning(UserWarning):
    """A limit this machine could not apply (the run went on without it)."""


class ExecError(NsboxError):
    """The container's command could not be executed: 127 (not found) or 126 (not executable)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ProcessError(Error):
    """``Result.check_returncode()`` on a command that did not exit 0 (as
    subprocess.CalledProcessError); ``result`` holds the whole Result."""

    def __init__(self, result: object, message: str) -> None:
        super().__init__(message)
        self.result = result
        self.returncode: int = getattr(result, "returncode", 1)


class PoolClosed(Error):
    """The pool was closed, or its server died: the run did not happen (or was cut short)."""
