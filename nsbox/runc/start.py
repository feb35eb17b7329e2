"""``nsbox-runc start ID``: release a created container's process (runtime.md "start").

startContainer hooks run in the container's namespaces first; the exec fifo
is opened (init, blocked opening it for writing, goes on to execve) and
removed; poststart hooks run before we return.  A hook that fails stops the
container (runtime.md lifecycle steps 7 and 9) and is reported."""

from __future__ import annotations

import os

from ..errors import NsboxError
from ..runtime import state as S
from .opts import one_id, parse


def main(name: str, argv: list[str]) -> int:
    _v, pos = parse(name, "start ID", [], argv)
    start(one_id(name, pos))
    return 0


def start(cid: str) -> None:
    from .store import lookup, need, store

    c = lookup(store(), cid)
    c.lock()
    try:
        need(c, "start", S.CREATED)
        spec = load_config(c, hooks_only=True)
        pid = c.state["pid"]
        if spec is not None:
            _hooks(c, spec, "start_container", pid, inside=True)
        release(c, pid)
        c.write(status=S.RUNNING, started=S.now())
        if spec is not None:
            _hooks(c, spec, "poststart", pid, inside=False)
    finally:
        c.unlock()


def load_config(c: S.Container, hooks_only: bool = False):
    """The container's config as a Spec; ``hooks_only``: None when it has no hooks
    (building the records is the larger part of a ``start``'s work)."""
    from .. import jsonio
    from ..spec import model

    data = jsonio.load_file(f"{c.path}/config.json")
    if hooks_only and not data.get("hooks"):
        return None
    return model.load(data)


def _hooks(c: S.Container, spec, stage: str, pid: int, inside: bool) -> None:
    from .hooks import HookError, run_all
    from .store import hook_state

    try:
        run_all(spec, stage, hook_state(c, S.CREATED if inside else S.RUNNING, pid),
                join_pid=pid if inside else 0, resolve_inside=inside)
    except HookError:
        from .kill import signal_init

        signal_init(c, 9)
        raise


def release(c: S.Container, pid: int) -> None:
    """Open the exec fifo: init's open for writing returns, it writes a byte and execs."""
    import select

    try:
        fd = os.open(c.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NsboxError(f"start `{c.id}`: the container was started already") from None
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        os.close(fd)
        raise NsboxError(f"start `{c.id}`: the container's process exited before it started") from None
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        p.register(pidfd, select.POLLIN)
        while True:
            events = dict(p.poll())
            if fd in events and events[fd] & select.POLLIN and os.read(fd, 1):
                break
            if pidfd in events:
                raise NsboxError(f"start `{c.id}`: the container's process exited before it started")
    finally:
        os.close(pidfd)
        os.close(fd)
    os.unlink(c.fifo)
