"""What a finished container run returns: :class:`Result` (as subprocess's
CompletedProcess) and :class:`Reason`, why it ended."""

from __future__ import annotations

import enum

from ..errors import ProcessError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


class Reason(enum.StrEnum):
    """Why the container's command ended.

    >>> nsbox.run(["sleep", "10"], timeout=0.1).reason
    <Reason.TIMED_OUT: 'timed-out'>
    """

    EXITED = "exited"
    SIGNALLED = "signalled"
    OOM_KILLED = "oom-killed"
    TIMED_OUT = "timed-out"


class Result:
    """A finished run.

    ``returncode`` is what ``nsbox run`` exits with: the command's exit code, or
    128+N when signal N killed it.  ``stdout``/``stderr`` are the captured bytes
    (str with ``text=True``; None when not captured).  ``cpu_time`` (seconds),
    ``peak_memory`` (bytes) come from the container's cgroup (None where this
    machine has no such counter); ``wall_time`` is seconds from start to exit.
    ``warnings`` lists the limits this machine could not apply.

    >>> r = nsbox.run(["sh", "-c", "echo hi; exit 3"])
    >>> (r.returncode, r.stdout, r.reason)
    (3, b'hi\\n', <Reason.EXITED: 'exited'>)
    """

    __slots__ = ("args", "returncode", "stdout", "stderr", "reason", "signal", "cpu_time",
                 "peak_memory", "wall_time", "warnings", "container_id")

    def __init__(self, args: Sequence[str], returncode: int, *, stdout: bytes | str | None = None,
                 stderr: bytes | str | None = None, reason: Reason = Reason.EXITED,
                 signal: int | None = None, cpu_time: float | None = None,
                 peak_memory: int | None = None, wall_time: float = 0.0,
                 warnings: Sequence[str] = (), container_id: str = "") -> None:
        self.args = list(args)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.reason = reason
        self.signal = signal
        self.cpu_time = cpu_time
        self.peak_memory = peak_memory
        self.wall_time = wall_time
        self.warnings = list(warnings)
        self.container_id = container_id

    def __repr__(self) -> str:
        parts = [f"args={self.args!r}", f"returncode={self.returncode}", f"reason={self.reason.value!r}"]
        if self.signal is not None:
            parts.append(f"signal={self.signal}")
        for name in ("stdout", "stderr"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        return f"Result({', '.join(parts)})"

    def check_returncode(self) -> None:
        """Raise :class:`nsbox.ProcessError` if the command did not exit 0.

        >>> nsbox.run(["false"]).check_returncode()
        Traceback (most recent call last):
        nsbox.errors.ProcessError: command `false` exited with status 1
        """
        if self.returncode == 0 and self.reason is Reason.EXITED:
            return
        raise ProcessError(self, describe(self))


def describe(r: Result) -> str:
    cmd = " ".join(r.args)
    if r.reason is Reason.TIMED_OUT:
        return f"command `{cmd}` timed out after {r.wall_time:.3g} s"
    if r.reason is Reason.OOM_KILLED:
        return f"command `{cmd}` was OOM-killed (exit status {r.returncode})"
    if r.reason is Reason.SIGNALLED:
        return f"command `{cmd}` was killed by signal {r.signal} (exit status {r.returncode})"
    return f"command `{cmd}` exited with status {r.returncode}"


def from_status(status: int) -> tuple[int, Reason, int | None]:
    """A waitpid status -> (returncode as the CLI's, reason, signal)."""
    import os

    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return 128 + sig, Reason.SIGNALLED, sig
    return os.WEXITSTATUS(status), Reason.EXITED, None
