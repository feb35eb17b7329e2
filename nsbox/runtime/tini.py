"""A minimal init (``--init``): PID 1 that forwards signals and reaps zombies.

A process that is PID 1 of its namespace gets no default signal actions
(pid_namespaces(7)) and inherits every orphan; most programs handle neither.
This stays in the container as PID 1, runs the command as its child, forwards
the usual signals to it, reaps everything, and exits with the child's status.
"""

from __future__ import annotations

import _signal
import os

FORWARD = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGCONT",
           "SIGALRM", "SIGTSTP", "SIGTTIN", "SIGTTOU")


def _scrub_cmdline_and_environ(title: bytes = b"nsbox-init") -> None:
    """Overwrite our argv and environ in memory: /proc/1/cmdline and /proc/1/environ
    would otherwise show the host's nsbox command line and the caller's environment
    (tokens, SSH_AUTH_SOCK...) inside the container for its whole life.  The
    kernel reads both from the ranges in /proc/self/stat (fields 48-51), as
    setproctitle does."""
    import ctypes

    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        arg_start, arg_end, env_start, env_end = (int(x) for x in fields[45:49])
    except (OSError, ValueError, IndexError):
        return
    if env_end > env_start:
        ctypes.memset(env_start, 0, env_end - env_start)
    if arg_end > arg_start:
        ctypes.memset(arg_start, 0, arg_end - arg_start)
        ctypes.memmove(arg_start, title, min(len(title), arg_end - arg_start - 1))
    os.environ.clear()


def run_init(path: str, argv: list[str], env: dict[str, str], dumpable: bool = False) -> None:
    from .process import _reset_signals

    # We stay in the container as PID 1 instead of exec'ing: nothing of ours may
    # stay open in here (the host's owner.lock, the sync socket, the namespace
    # fds of the parent; runc closes them at exec, GHSA-xr7r-f8xq-vfvv).
    _close_all_above(2)
    _scrub_cmdline_and_environ()
    if dumpable:
        # Rootless: an unprivileged `nsbox exec`/`enter` must open our
        # /proc/PID/ns/* (ptrace(2) access mode), which a non-dumpable process
        # (a joined PID namespace, a user switch) refuses it.  Nothing of the
        # host is left in us but the interpreter's file, which the container's
        # root (the user) cannot write unless the user owns it.
        from ..kernel import prctl

        prctl.set_dumpable(True)
    child = os.fork()
    if child == 0:
        try:
            _reset_signals()
            os.execve(path, argv, env)
        finally:
            os._exit(127)

    def forward(sig: int, _frame: object) -> None:
        try:
            os.kill(child, sig)
        except OSError:
            pass

    for name in FORWARD:
        _signal.signal(getattr(_signal, name), forward)  # boundary-ok: the container's init (--init)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)  # boundary-ok
    while True:
        try:
            pid, status = os.waitpid(-1, 0)  # boundary-ok: PID 1 reaps every orphan
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


def _close_all_above(low: int) -> None:
    from ..kernel.libc import SYS, syscall

    if syscall(SYS["close_range"], low + 1, 0xFFFFFFFF, 0) != 0:
        os.closerange(low + 1, os.sysconf("SC_OPEN_MAX"))
