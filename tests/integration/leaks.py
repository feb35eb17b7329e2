"""What a container may leave on the host: checked after tests that stress failure paths."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def container_dirs(root: str) -> list[str]:
    try:
        return sorted(os.listdir(f"{root}/containers"))
    except FileNotFoundError:
        return []


def cgroup_dirs(parent: str) -> list[str]:
    """Cgroups left under this test session's cgroup parent (tests/conftest.py CGROUP_PARENT)."""
    out = []
    for base in Path("/sys/fs/cgroup").glob("*" + parent):
        out += [str(d) for d in base.iterdir() if d.is_dir()]
    return out


def host_mounts(marker: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if marker in line]


def processes_with(marker: str) -> list[str]:
    r = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True)
    return [line for line in r.stdout.splitlines() if marker in line and "ps -eo" not in line]


def leftovers(root: str) -> dict[str, list[str]]:
    from ..conftest import CGROUP_PARENT

    found = {
        "state dirs": container_dirs(root),
        "cgroups": cgroup_dirs(CGROUP_PARENT) if os.geteuid() == 0 else [],
        "mounts": host_mounts(root),
    }
    return {k: v for k, v in found.items() if v}
