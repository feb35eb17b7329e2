"""Fake cgroupfs trees in tmp_path (youki's libcgroups set_fixture style)."""

from __future__ import annotations

from pathlib import Path

from nsbox.cgroups.detect import Hierarchy, Layout

V1_FILES = {
    "memory": {"memory.limit_in_bytes": "9223372036854771712\n", "memory.memsw.limit_in_bytes": "9223372036854771712\n",
               "memory.soft_limit_in_bytes": "9223372036854771712\n", "memory.swappiness": "60\n",
               "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
               "memory.usage_in_bytes": "0\n", "memory.stat": "total_inactive_file 0\n",
               "memory.use_hierarchy": "1\n", "memory.kmem.limit_in_bytes": "9223372036854771712\n"},
    "cpu": {"cpu.shares": "1024\n", "cpu.cfs_period_us": "100000\n", "cpu.cfs_quota_us": "-1\n",
            "cpu.cfs_burst_us": "0\n", "cpu.rt_period_us": "1000000\n", "cpu.rt_runtime_us": "0\n", "cpu.idle": "0\n"},
    "cpuacct": {"cpuacct.usage": "0\n"},
    "cpuset": {"cpuset.cpus": "0-1\n", "cpuset.mems": "0\n", "cpuset.effective_cpus": "0-1\n",
               "cpuset.effective_mems": "0\n"},
    "pids": {"pids.max": "max\n", "pids.current": "0\n"},
    "blkio": {"blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "",
              "blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": "",
              "blkio.throttle.io_service_bytes_recursive": ""},
    "devices": {"devices.allow": "", "devices.deny": ""},
}

V2_FILES = {
    "cgroup.controllers": "cpuset cpu io memory pids hugetlb\n", "cgroup.subtree_control": "",
    "cpu.weight": "100\n", "cpu.max": "max 100000\n", "cpu.max.burst": "0\n", "cpu.idle": "0\n",
    "cpu.stat": "usage_usec 0\n", "cpuset.cpus": "", "cpuset.mems": "", "cpuset.cpus.effective": "0-1\n",
    "memory.max": "max\n", "memory.swap.max": "max\n", "memory.low": "0\n", "memory.current": "0\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n", "memory.stat": "inactive_file 0\n",
    "memory.high": "max\n", "pids.max": "max\n", "pids.current": "0\n", "io.max": "", "io.weight": "default 100\n",
    "io.stat": "", "hugetlb.2MB.max": "max\n",
}


def set_fixture(d: Path, name: str, content: str = "") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_text(content)
    return p


def read(d: Path, name: str) -> str:
    return (d / name).read_text()


def v1_tree(root: Path, path: str = "/nsbox/c1", controllers=tuple(V1_FILES), with_unified: bool = False
            ) -> tuple[Layout, dict[str, Path]]:
    """A v1 (or hybrid) machine: one hierarchy per controller, the cgroup ``path`` made in each."""
    hs = []
    dirs = {}
    for c in controllers:
        mnt = root / c
        d = mnt / path.strip("/")
        for name, content in V1_FILES[c].items():
            set_fixture(d, name, content)
        hs.append(Hierarchy(str(mnt), (c,), 1))
        dirs[c] = d
    if with_unified:
        mnt = root / "unified"
        set_fixture(mnt, "cgroup.controllers", "hugetlb\n")
        d = mnt / path.strip("/")
        set_fixture(d, "cgroup.controllers", "hugetlb\n")
        set_fixture(d, "hugetlb.2MB.max", "max\n")
        set_fixture(d, "hugetlb.2MB.rsvd.max", "max\n")
        hs.append(Hierarchy(str(mnt), ("hugetlb",), 2))
        dirs["unified"] = d
    return Layout(hs), dirs


def v2_tree(root: Path, path: str = "/nsbox/c1", files: dict[str, str] | None = None) -> tuple[Layout, Path]:
    mnt = root / "cgroup"
    set_fixture(mnt, "cgroup.controllers", V2_FILES["cgroup.controllers"])
    d = mnt / path.strip("/")
    for name, content in (files if files is not None else V2_FILES).items():
        set_fixture(d, name, content)
    h = Hierarchy(str(mnt), ("cpuset", "cpu", "io", "memory", "pids", "hugetlb"), 2)
    return Layout([h]), d
