"""Start the RCU grace period a cgroup migration costs, before we need it.

Moving a process between cgroups takes cgroup_threadgroup_rwsem for writing; when
no migration happened in the last grace period, that waits for a whole RCU grace
period (rcu_sync_enter -> synchronize_rcu: ~10 ms here, a fifth of a container
start).  A write that lands while the previous one's grace period is still
fresh does not wait.  So at the start of ``nsbox run`` a throw-away child moves
itself to the cgroup it is already in (a no-op, in a hierarchy where we sit at
the root: nobody else's cgroup is touched) and exits; by the time init is moved
into the container's cgroup the grace period has passed in parallel with set-up.
"""

from __future__ import annotations

import os


def target(proc_cgroup: str = "/proc/self/cgroup", base: str = "/sys/fs/cgroup") -> str | None:
    """A cgroup.procs of a v1 hierarchy in whose root cgroup we are."""
    try:
        with open(proc_cgroup) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _hid, ctrls, path = line.split(":", 2)
        if path != "/" or not ctrls or ctrls.startswith("name="):
            continue
        p = f"{base}/{ctrls}/cgroup.procs"
        if os.path.exists(p):
            return p
    return None


def prewarm() -> int:
    """Fork the child; return its pid (0 if nothing to do). The caller reaps it."""
    if os.geteuid() != 0:
        return 0
    path = target()
    if path is None:
        return 0
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            os.write(fd, str(os.getpid()).encode())
        except BaseException:  # noqa: BLE001 - an optimisation only
            pass
        os._exit(0)
    return pid
