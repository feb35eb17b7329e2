"""How a process joining a container (``nsbox exec``) enters its cgroups, with no
RCU grace period on the critical path.

A cgroup.procs write takes cgroup_threadgroup_rwsem for writing, which waits
for an RCU grace period (~10-25 ms here).  Two ways around it: a single-threaded
process moving *itself* through a v1 ``tasks`` file skips that lock, and a
child cloned with CLONE_INTO_CGROUP into a cgroup2 directory needs no migration
at all (runtime/join.py does both).  What neither covers is left to the parent,
which writes cgroup.procs as before.
"""

from __future__ import annotations

import os

from ..kernel.errors import KernelError


class CgroupPlan:
    """How the joining child enters the container's cgroups (see cgroup_plan)."""

    def __init__(self, self_join: list[str], into: str | None, parent_procs: list[str],
                 parent_unknown: list[str]) -> None:
        self.self_join = self_join            # v1 ``tasks`` files it writes "0" to itself
        self.into = into                      # a cgroup2 directory it clones the command into
        self.parent_procs = parent_procs      # cgroup.procs files we must write its pid to
        self.parent_unknown = parent_unknown  # cgroups under no hierarchy we found: the manager's job

    @property
    def needs_parent(self) -> bool:
        return bool(self.parent_procs or self.parent_unknown)


def cgroup_plan(paths: list[str], base: str = "/sys/fs/cgroup") -> CgroupPlan:
    """No grace period on the critical path: moving oneself thread by thread
    through v1 ``tasks`` does not take cgroup_threadgroup_rwsem, and a child
    cloned with CLONE_INTO_CGROUP needs no migration at all; a cgroup.procs
    write waits for an RCU grace period (~10-25 ms here)."""
    self_join: list[str] = []
    procs: list[str] = []
    unknown: list[str] = []
    for path in paths:
        files = procs_files(path, base)
        if not files:
            unknown.append(path)
        for f in files:
            tasks = f"{os.path.dirname(f)}/tasks"
            if os.path.exists(tasks):
                self_join.append(tasks)
            else:
                procs.append(f)
    if len(procs) == 1 and not unknown:
        return CgroupPlan(self_join, os.path.dirname(procs[0]), [], [])
    return CgroupPlan(self_join, None, procs, unknown)


def migrate(pid: int, procs: list[str], unknown: list[str]) -> BaseException | None:
    """Move the joining child into the container's cgroups that it cannot join
    itself (its child inherits them); this overlaps its own work."""
    try:
        for f in procs:
            write_file(f, str(pid))
        for path in unknown:  # cgroups mounted somewhere unusual: ask mountinfo
            from ..cgroups.manager import Cgroup

            Cgroup(path).add(pid)
    except KernelError as e:
        return e
    return None


def procs_files(path: str, base: str = "/sys/fs/cgroup") -> list[str]:
    """cgroup.procs of ``path`` in each hierarchy mounted under ``base`` (v2 at
    ``base``, v1 and hybrid below it), one per hierarchy: cpu and cpuacct are
    often links to cpu,cpuacct.  Cheaper than parsing mountinfo on exec's path."""
    out: list[str] = []
    if os.path.exists(f"{base}{path}/cgroup.procs"):
        return [f"{base}{path}/cgroup.procs"]
    seen: set[tuple[int, int]] = set()
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return out
    for h in names:
        f = f"{base}/{h}{path}/cgroup.procs"
        try:
            st = os.stat(f"{base}/{h}")  # (follows cpu -> cpu,cpuacct)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) not in seen and os.path.exists(f):
            seen.add((st.st_dev, st.st_ino))
            out.append(f)
    return out


def write_file(path: str, value: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise KernelError(e.errno or 0, f"write `{value}` to `{path}`", path) from None
