from __future__ import annotations

import os

from nsbox import procfs
from nsbox.cgroups.detect import Hierarchy, Layout, detect
from nsbox.cgroups.manager import Cgroup

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 23 0:40 / /mnt/with\\040space rw master:3 - tmpfs tmpfs rw
"""
V2 = "30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"


def fake_proc(tmp_path, mountinfo: str):
    d = tmp_path / "proc" / "self"
    d.mkdir(parents=True)
    (d / "mountinfo").write_text(mountinfo)
    return str(tmp_path / "proc")


def test_mountinfo_parsing(tmp_path):
    ms = procfs.mountinfo("self", fake_proc(tmp_path, HYBRID))
    assert ms[1].mountpoint == "/sys/fs/cgroup/cpu,cpuacct" and ms[1].propagation == "shared:5"
    assert ms[-1].mountpoint == "/mnt/with space" and ms[-1].propagation == "master:3"
    assert ms[0].propagation == "private" and ms[0].fstype == "tmpfs"


def test_detect_hybrid(tmp_path):
    layout = detect(fake_proc(tmp_path, HYBRID))
    assert layout.mode == "hybrid"
    assert layout.controller("memory").mountpoint == "/sys/fs/cgroup/memory"
    assert layout.controller("cpuacct").controllers == ("cpu", "cpuacct")
    assert [h.key for h in layout.hierarchies] == ["cpu,cpuacct", "memory", "name=systemd", ""]


def test_detect_v2(tmp_path):
    assert detect(fake_proc(tmp_path, V2)).mode == "v2"


def test_manager_on_fake_v2_tree(tmp_path):
    root = tmp_path / "cg"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    layout = Layout([Hierarchy(str(root), ("cpu", "memory", "pids"), 2)])
    cg = Cgroup("/nsbox/abc", layout)
    # a real cgroupfs populates new directories; mimic the files the manager reads
    orig_mkdir = os.mkdir

    def mkdir(path, mode=0o777):
        orig_mkdir(path, mode)
        open(os.path.join(path, "cgroup.controllers"), "w").write("cpu memory pids\n")
        open(os.path.join(path, "cgroup.subtree_control"), "w").write("")
        open(os.path.join(path, "cgroup.procs"), "w").write("")

    os.mkdir = mkdir
    try:
        cg.create()
    finally:
        os.mkdir = orig_mkdir
    assert (root / "nsbox" / "abc").is_dir()
    assert "+memory" in (root / "cgroup.subtree_control").read_text()
    assert "+pids" in (root / "nsbox" / "cgroup.subtree_control").read_text()
    cg.add(1234)
    assert (root / "nsbox" / "abc" / "cgroup.procs").read_text() == "1234"
