"""stop, kill, rm and wait: acting on containers another process supervises.

Locking: a command holds the container's ``lock`` while it reads the state and
decides, never while it waits for the container to exit (the supervisor takes
the same lock to record that exit).  Signals go to init through a pidfd that
is checked against the recorded start time after it is opened, so a recycled
pid is never signalled (pidfd_open(2), pidfd_send_signal(2)).
"""

from __future__ import annotations

import _signal
import os
import time

from .. import procfs
from ..errors import ConfigError, ContainerNotFound, ContainerStateError, NsboxError
from . import state as S

SUPERVISOR_GRACE = 10.0  # how long the supervisor may take to record an exit


def parse_signal(text: str) -> int:
    """TERM, SIGTERM, sigterm, 15, RTMIN+2, SIGRTMAX-1 -> the signal number."""
    t = text.strip().upper()
    if t.isdigit():
        n = int(t)
        if 0 < n <= _signal.SIGRTMAX:
            return n
    else:
        name = t[3:] if t.startswith("SIG") else t
        for base in ("RTMIN", "RTMAX"):
            if name.startswith(base):
                rest = name[len(base):]
                off = int(rest) if rest[:1] in ("+", "-") and rest[1:].isdigit() else 0 if not rest else None
                if off is not None:
                    n = getattr(_signal, "SIG" + base) + off
                    if _signal.SIGRTMIN <= n <= _signal.SIGRTMAX:
                        return n
                break
        else:
            n = getattr(_signal, "SIG" + name, None)
            if isinstance(n, int) and name.isalnum():
                return n
    raise ConfigError(f"signal `{text}`: unknown signal (a name such as TERM or SIGKILL, or a number)")


def open_init(c: S.Container) -> int | None:
    """A pidfd for the container's running init, or None if it is not running."""
    st = c.state
    if c.live_status() not in (S.RUNNING, S.PAUSED):
        return None
    pid = st.get("pid", 0)
    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, ValueError, OSError):
        return None
    if procfs.start_time(pid) != st.get("pidStart"):
        os.close(fd)  # the pid was reused: not our container's process
        return None
    return fd


def exited(pidfd: int, timeout: float) -> bool:
    """Wait until the process behind ``pidfd`` exits (it becomes readable)."""
    import select

    p = select.poll()
    p.register(pidfd, select.POLLIN)
    return bool(p.poll(max(0, int(timeout * 1000))))


def wait_released(c: S.Container, timeout: float = SUPERVISOR_GRACE) -> bool:
    """Wait until nobody supervises the container (its exit is recorded)."""
    deadline = time.monotonic() + timeout
    while c.owner_alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _running(store: S.Store, ref: str) -> tuple[S.Container, int | None]:
    c = store.lookup(ref)
    c.lock()
    try:
        return c, open_init(c)
    finally:
        c.unlock()


def kill(store: S.Store, ref: str, sig: int) -> None:
    c, fd = _running(store, ref)
    if fd is None:
        raise ContainerStateError(f"kill `{ref}`: container is not running")
    try:
        _signal.pidfd_send_signal(fd, sig)
    except ProcessLookupError:
        raise ContainerStateError(f"kill `{ref}`: container is not running") from None
    finally:
        os.close(fd)


def stop(store: S.Store, ref: str, timeout: float = 10.0) -> None:
    """SIGTERM (or the image's StopSignal), then SIGKILL after ``timeout`` seconds; returns once
    the exit is recorded."""
    c, fd = _running(store, ref)
    if fd is None:
        return  # already stopped: nothing to do (as docker stop)
    try:
        first = _stop_signal(c)
        for sig, wait in ((first, timeout), (_signal.SIGKILL, SUPERVISOR_GRACE)):
            try:
                _signal.pidfd_send_signal(fd, sig)
            except ProcessLookupError:
                break
            if exited(fd, wait):
                break
        else:
            raise NsboxError(f"stop `{ref}`: the container's init did not die after SIGKILL")
    finally:
        os.close(fd)
    wait_released(c)


def _stop_signal(c: S.Container) -> int:
    try:
        return parse_signal(c.state.get("stopSignal") or "SIGTERM")
    except ConfigError:
        return _signal.SIGTERM


def remove(store: S.Store, ref: str, force: bool = False) -> None:
    """rm: refuse a running container unless ``force`` (then SIGKILL it first)."""
    c = store.lookup(ref)
    deadline = time.monotonic() + SUPERVISOR_GRACE
    first = True
    while True:
        try:
            c.lock()
        except ContainerNotFound:
            if first:
                raise
            return  # its supervisor removed it (--rm, or a foreground run)
        first = False
        try:
            status = c.live_status()
            owned = c.owner_alive()
            if status == S.STOPPED and not owned:
                _remove_stopped(c)
                return
            if not force:
                what = "being created" if status == S.CREATING else "running"
                raise ContainerStateError(f"rm `{ref}`: container is {what} (stop it first, or use rm -f)")
            fd = open_init(c) if status != S.CREATING else None
        finally:
            c.unlock()
        if time.monotonic() > deadline:
            raise NsboxError(f"rm `{ref}`: its supervisor (pid {c.state.get('owner')}) did not let go "
                             f"within {SUPERVISOR_GRACE:.0f}s")
        if fd is not None:
            try:
                _signal.pidfd_send_signal(fd, _signal.SIGKILL)
                exited(fd, SUPERVISOR_GRACE)
            except ProcessLookupError:
                pass
            finally:
                os.close(fd)
        elif status == S.CREATING:
            time.sleep(0.02)  # let its set-up finish or fail, then decide again
            continue
        wait_released(c, max(0.0, deadline - time.monotonic()))


def _remove_stopped(c: S.Container) -> None:
    from . import resources

    errors = resources.release_all(c.state.get("resources", []))
    c.remove_dir()
    if errors:
        raise NsboxError(f"rm `{c.id[:12]}`: removed, but " + "; ".join(errors))


def wait(store: S.Store, ref: str) -> int:
    """Block until the container has exited; its exit code (also for --rm ones)."""
    from .gc import collect

    c = store.lookup(ref)
    try:
        code_fd = os.open(c.exitcode_path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ContainerNotFound(f"no such container: `{ref}`") from None
    try:
        for _attempt in range(3):
            code = _recorded(code_fd)
            if code is not None:
                return code
            try:
                st = c.read()
            except NsboxError:
                st = {}
            if st.get("status") == S.STOPPED and "exitCode" in st:
                return int(st["exitCode"])
            _until_unowned(c)
            code = _recorded(code_fd)
            if code is not None:
                return code
            collect(store)  # the supervisor died without recording: GC records 137
        raise NsboxError(f"wait `{ref}`: no exit status was recorded")
    finally:
        os.close(code_fd)


def _recorded(fd: int) -> int | None:
    data = os.pread(fd, 32, 0).strip()
    return int(data) if data.lstrip(b"-").isdigit() else None


def _until_unowned(c: S.Container) -> None:
    """Block (no polling) until owner.lock is free: a shared lock waits for the
    supervisor's exclusive one; it is dropped at once so GC can probe it."""
    import fcntl

    try:
        fd = os.open(f"{c.path}/owner.lock", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    finally:
        os.close(fd)
