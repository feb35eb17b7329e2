"""A slot's warm cgroup: made once with the template's limits, emptied after
each run and reused (nsbox.cgroups.manager owns the directories, apply.py and
devices.py the limits: this module only adds the per-run readings).

CPU time is the counter's difference over the run (v1 cpuacct.usage in ns,
cgroup2 cpu.stat usage_usec); peak memory is v1 memory.max_usage_in_bytes
(reset by writing 0) or cgroup2 memory.peak (reset per open file, Linux 6.12+).
"""

from __future__ import annotations

import os

from ..cgroups.manager import Cgroup, read_file, write_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..cgroups.detect import Layout


class SlotCgroup:
    def __init__(self, path: str, layout: Layout) -> None:
        self.cg = Cgroup(path, layout)
        self.layout = layout
        self.limits: dict | None = None  # what is written now (None: the template's)
        self._peak_fd = -1
        self._cpu_path, self._cpu_v2 = self._cpu_file()
        self._first = self.cg.dirs[0] if self.cg.dirs else ""

    def _cpu_file(self) -> tuple[str | None, bool]:
        h = self.layout.controller("cpuacct")
        if h is not None and h.version == 1:
            return f"{self.cg.dir(h)}/cpuacct.usage", False
        u = self.layout.unified()
        return (f"{self.cg.dir(u)}/cpu.stat", True) if u is not None else (None, False)

    def create(self, resources: dict, rootless: bool) -> None:
        self.cg.create()
        if resources.get("devices"):
            from ..cgroups.devices import apply as apply_devices

            apply_devices(self.cg, resources["devices"])
        self.apply(resources, rootless)
        self.limits = None

    def apply(self, resources: dict, rootless: bool) -> None:
        limits = {k: v for k, v in resources.items() if k != "devices"}
        if limits:
            from ..cgroups import apply as cgapply

            cgapply.apply(self.cg, limits, rootless=rootless)

    def clone_fd(self) -> int:
        """An fd of the cgroup2 directory for clone3's CLONE_INTO_CGROUP (-1: none)."""
        u = self.layout.unified()
        if u is None:
            return -1
        try:
            return os.open(self.cg.dir(u), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return -1

    def join_files(self, into_v2: bool) -> list[str]:
        """Files the sandbox writes "0" to, to join the cgroup itself (v1 ``tasks``,
        and cgroup2's ``cgroup.procs`` where clone3 could not place it)."""
        v1, rest = self.cg.self_join_files()
        return v1 + ([] if into_v2 else [f"{self.cg.dir(h)}/cgroup.procs" for h in rest])

    # -- per run ---------------------------------------------------------------
    def cpu_ns(self) -> int | None:
        if self._cpu_path is None:
            return None
        try:
            text = read_file(self._cpu_path)
        except OSError:
            return None
        if not self._cpu_v2:
            return int(text.strip() or 0)
        for line in text.splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) * 1000
        return None

    def reset_peak(self) -> None:
        h = self.layout.controller("memory")
        if h is None:
            return
        if h.version == 1:
            try:
                write_file(f"{self.cg.dir(h)}/memory.max_usage_in_bytes", "0")
            except OSError:
                pass
            return
        if self._peak_fd < 0:
            try:
                self._peak_fd = os.open(f"{self.cg.dir(h)}/memory.peak", os.O_RDWR | os.O_CLOEXEC)
            except OSError:
                return
        try:
            os.write(self._peak_fd, b"reset\n")
        except OSError:
            pass

    def peak(self) -> int | None:
        h = self.layout.controller("memory")
        if h is None:
            return None
        try:
            if h.version == 1:
                return int(read_file(f"{self.cg.dir(h)}/memory.max_usage_in_bytes").strip())
            if self._peak_fd >= 0:
                return int(os.pread(self._peak_fd, 64, 0).strip())
        except (OSError, ValueError):
            pass
        return None

    def oom_kills(self) -> int:
        return self.cg.oom_kills()

    def empty(self) -> None:
        """Kill whatever is left (setsid'd, double-forked: the cgroup knows them all)."""
        try:
            if not read_file(f"{self._first}/cgroup.procs").strip():
                return
        except OSError:
            pass
        self.cg.kill_all()

    def destroy(self) -> None:
        if self._peak_fd >= 0:
            os.close(self._peak_fd)
            self._peak_fd = -1
        self.cg.kill_all()
        self.cg.destroy()
