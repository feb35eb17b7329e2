"""The lean supervisor of a detached container (see runtime/detach.py).

Run as ``python -I -S supervise.py CID PATH PID MASTER LOG OWNER_FD SYSPATH``
by the process that started the container, which execve()s into it to shed
the memory of everything it imported: while the container runs this imports
only what the interpreter itself loads, plus :mod:`select` for ``-t``.
``-I`` (isolated: no PYTHON* variables, no script directory on sys.path) and
``-S`` (no site) keep start-up and memory minimal; the nsbox package is put
back on sys.path only once the container has exited, to record it.

It is the parent of the container's init (a process nsbox started for itself:
the signal handlers and the reaping of any child below are its own), reaps it (and any
orphan reparented to it), forwards termination signals to it, copies a
terminal's output to the log, and records the exit: status and exit code in
state.json, the code in ``exitcode``, resources released, the directory
removed for ``--rm``.  Holding OWNER_FD (owner.lock) until it exits is what
tells other nsbox commands the container is supervised.
"""

import _signal
import os
import sys

FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")


def main(argv: list) -> None:
    cid, path, pid, master, log, _owner, syspath = argv[:7]
    pid, master, log = int(pid), int(master), int(log)
    _forward_signals(pid)
    status = _pump(master, log, pid) if master >= 0 else _wait(pid)
    code, reason = _decode(status)
    _reap_orphans()
    sys.path[:] = syspath.split(os.pathsep)
    try:
        _record(cid, path, code, reason)
    except Exception:  # noqa: BLE001 - no one to tell; GC finishes what is left
        pass


def _forward_signals(pid: int) -> None:
    # init is our unreaped child until _wait returns: its pid cannot be reused
    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except OSError:
            pass

    for name in FORWARDED:
        _signal.signal(getattr(_signal, name), forward)  # boundary-ok: the supervisor's own process
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def _wait(pid: int) -> int:
    """Reap children until init exits; its wait status."""
    while True:
        try:
            wpid, status = os.waitpid(-1, 0)  # boundary-ok: the supervisor's own children
        except ChildProcessError:
            return 255 << 8
        if wpid == pid:
            return status


def _pump(master: int, log: int, pid: int) -> int:
    """Copy the terminal's output to the log until init exits."""
    import select

    pidfd = os.pidfd_open(pid)
    p = select.poll()
    p.register(master, select.POLLIN)
    p.register(pidfd, select.POLLIN)
    while True:
        for fd, _ev in p.poll():
            if fd == pidfd:
                os.set_blocking(master, False)
                while _copy(master, log):
                    pass
                os.close(pidfd)
                return _wait(pid)
            if not _copy(master, log):
                p.unregister(master)


def _copy(src: int, dst: int) -> bool:
    try:
        data = os.read(src, 65536)
    except OSError:  # EIO: the terminal's last holder closed it; EAGAIN: drained
        return False
    if not data:
        return False
    try:
        os.write(dst, data)
    except OSError:
        pass  # a full disk must not stop the container
    return True


def _decode(status: int) -> tuple:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        names = [n for n in dir(_signal) if n.startswith("SIG") and "_" not in n and getattr(_signal, n) == sig]
        return 128 + sig, f"killed by signal {sig}" + (f" ({names[0]})" if names else "")
    code = os.waitstatus_to_exitcode(status)
    return code, f"exited with status {code}"


def _reap_orphans() -> None:
    """Processes reparented to us (a container sharing the host's PID namespace)."""
    while True:
        try:
            wpid, _status = os.waitpid(-1, os.WNOHANG)  # boundary-ok: the supervisor's own children
        except ChildProcessError:
            return
        if wpid == 0:
            return


def _record(cid: str, path: str, code: int, reason: str) -> None:
    from nsbox.errors import ContainerNotFound
    from nsbox.runtime import state as S
    from nsbox.runtime.gc import reap

    store = S.Store(os.path.dirname(os.path.dirname(path)))
    c = S.Container(store, cid, path)
    try:
        c.lock()
    except ContainerNotFound:
        return  # removed by `rm -f` meanwhile
    try:
        reap(c, code, reason)  # (c.state is re-read under the lock)
    finally:
        c.unlock()


if __name__ == "__main__":
    main(sys.argv[1:])
