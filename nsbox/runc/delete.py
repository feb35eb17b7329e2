"""``nsbox-runc delete [--force] ID...`` (runtime.md "delete").

A stopped container's resources are released (its cgroup, anything else
recorded in state.json), its directory removed, then the poststop hooks run
(a failing one is a warning).  Any other status is an error unless
``--force``, which kills everything first; ``--force`` on an unknown id is
not an error (the container shims rely on that, as with runc)."""

from __future__ import annotations

import os

from ..errors import Conflict, NotFound
from ..runtime import state as S
from .opts import Opt, parse

OPTIONS = [Opt("-f --force", "force", "bool", help="kill and delete a container in any state")]


def main(name: str, argv: list[str]) -> int:
    from .store import lookup, store

    v, pos = parse(name, "delete [--force] ID...", OPTIONS, argv)
    if not pos:
        from .opts import UsageError

        raise UsageError(f"{name}: a container id is required")
    st = store()
    failed = 0
    for cid in pos:
        try:
            c = lookup(st, cid)
        except NotFound:
            if v["force"]:
                remove_abandoned(st, cid)
                continue
            raise
        destroy(c, v["force"])
    return failed


def remove_abandoned(st: S.Store, cid: str) -> None:
    """A create SIGKILLed between making its directory (``.new-<pid>.<start>-<id>``)
    and naming it: nothing else was made yet; remove it once its creator is gone."""
    from .. import procfs

    for name in st.ids():
        who = S.pending_owner(name)
        if who is None or who[2] != cid or procfs.alive(who[0], who[1]):
            continue
        S.remove_tree(f"{st.containers_dir}/{name}")


def destroy(c: S.Container, force: bool) -> None:
    from .store import need, status

    c.lock()
    try:
        now = status(c)
        if now != S.STOPPED:
            if not force:
                need(c, "delete", S.STOPPED)
            _kill_everything(c)
        spec = _config(c)
        from ..runtime.resources import release_all

        errors = release_all(c.state.get("resources", []))
        _kill_init(c)
        if errors:
            c.write(resources=[r for r in c.state.get("resources", [])])
            raise Conflict(f"delete `{c.id}`: " + "; ".join(errors))
        state = _poststop_state(c)
        c.remove_dir()
    finally:
        c.unlock()
    if spec is not None:
        from .hooks import run_all
        from .main import warn

        run_all(spec, "poststop", state, warn=warn)


def _poststop_state(c: S.Container) -> dict:
    from .store import hook_state

    return hook_state(c, S.STOPPED, 0)


def _config(c: S.Container):
    try:
        from .start import load_config

        return load_config(c, hooks_only=True)
    except Exception:  # noqa: BLE001 - a half-created container may have none: no hooks then
        return None


def _kill_everything(c: S.Container) -> None:
    from .kill import signal_all

    signal_all(c, 9)
    _kill_init(c)


def _kill_init(c: S.Container) -> None:
    """SIGKILL init (if it is still the recorded process) and wait until it is gone."""
    import select

    from .. import procfs

    pid = c.state.get("pid", 0)
    if pid <= 0:
        return
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if procfs.start_time(pid) != c.state.get("pidStart"):
            return
        import _signal

        try:
            _signal.pidfd_send_signal(fd, 9)
        except ProcessLookupError:
            return
        p = select.poll()
        p.register(fd, select.POLLIN)
        p.poll(5000)
    finally:
        os.close(fd)
