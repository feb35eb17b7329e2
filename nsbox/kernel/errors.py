"""KernelError: an OSError that names the operation and the path.

``str(e) == "mount `proc` to `/proc`: Operation not permitted"``; ``e.errno`` stays
usable for callers that branch on it.
"""

from __future__ import annotations

import os


class Error(Exception):
    """The root of every error nsbox raises (``nsbox.Error``); ``str(e)`` is the
    one line the CLI prints after ``nsbox: ``.  It lives in the lowest layer so
    that KernelError, an OSError, can be one too."""

    exit_code = 1


class KernelError(OSError, Error):
    """A failed system call, with the operation and path it was about."""

    def __init__(self, err: int, op: str, path: str | None = None, hint: str | None = None) -> None:
        super().__init__(err, os.strerror(err) if err else "failed", path)
        self.op = op
        self.hint = hint

    @property
    def path(self) -> str | None:
        """The path the call was about (OSError's ``filename``)."""
        return self.filename  # type: ignore[no-any-return]

    def __str__(self) -> str:
        msg = f"{self.op}: {self.strerror}"
        if self.hint:
            msg += f" ({self.hint})"
        return msg

    def __reduce__(self) -> tuple[type, tuple[int | None, str, str | None, str | None]]:
        # keep op/hint across pickling (multiprocessing users)
        return (type(self), (self.errno, self.op, self.filename, self.hint))


def wrap(err: OSError, context: str, hint: str | None = None) -> KernelError:
    """Prefix ``context`` to an error's message and keep its errno.

    ``wrap(e, "creating cgroup directory `X`")`` gives
    ``creating cgroup directory `X`: mkdir `X`: Permission denied``.
    """
    if isinstance(err, KernelError):
        new = KernelError(err.errno or 0, f"{context}: {err.op}", err.filename, hint or err.hint)
    else:
        new = KernelError(err.errno or 0, context, getattr(err, "filename", None), hint)
    return new


def from_os_error(err: OSError, op: str, path: str | None = None) -> KernelError:
    """Turn a plain OSError from the os module into a KernelError naming ``op``."""
    if isinstance(err, KernelError):
        return err
    return KernelError(err.errno or 0, op, path if path is not None else err.filename)
