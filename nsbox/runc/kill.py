"""``nsbox-runc kill [--all] ID [SIGNAL]``: a signal (default SIGTERM) to the
container's init, or with ``--all`` to every process in its cgroup.
runtime.md "kill": an error unless the container is created or running."""

from __future__ import annotations

import os

from ..errors import Conflict
from ..runtime import state as S
from .opts import Opt, one_id, parse

OPTIONS = [Opt("-a --all", "all", "bool", help="signal every process of the container")]


def main(name: str, argv: list[str]) -> int:
    from ..runtime.control import parse_signal
    from .store import lookup, need, store

    v, pos = parse(name, "kill [--all] ID [SIGNAL]", OPTIONS, argv)
    cid = one_id(name, pos, extra=1)
    sig = parse_signal(pos[1]) if len(pos) > 1 else 15
    c = lookup(store(), cid)
    c.lock()
    try:
        if v["all"]:
            # --all (runc's extension) also reaches what a stopped container left in
            # its cgroup: processes of a shared PID namespace outlive its init, and
            # containerd kills them so after the init exited
            signal_all(c, sig)
            return 0
        need(c, "kill", S.CREATED, S.RUNNING, S.PAUSED)
        if not signal_init(c, sig):
            raise Conflict(f"kill `{cid}`: container is stopped, not created or running")
    finally:
        c.unlock()
    return 0


def signal_init(c: S.Container, sig: int) -> bool:
    """Through a pidfd checked against the recorded start time: never a recycled pid."""
    import _signal

    from .. import procfs

    st = c.state
    pid = st.get("pid", 0)
    if pid <= 0:
        return False
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        if procfs.start_time(pid) != st.get("pidStart"):
            return False
        _signal.pidfd_send_signal(fd, sig)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(fd)


def signal_all(c: S.Container, sig: int) -> None:
    from .store import cgroup_path

    path = cgroup_path(c)
    if path is None:  # no cgroup (rootless): init, which takes its PID namespace with it
        signal_init(c, sig)
        return
    from ..cgroups.manager import Cgroup

    cg = Cgroup(path)
    if sig == 9:
        cg.kill_all(timeout=0)
        return
    for pid in cg.procs():
        try:
            os.kill(pid, sig)
        except OSError:
            pass
