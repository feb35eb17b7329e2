"""nsbox mounts: the findmnt -N tree from a mountinfo text."""

from __future__ import annotations

from nsbox.inspect.findmnt import Tree, options, source, to_json, to_table
from nsbox.procfs import MountInfo

MOUNTINFO = """\
66 43 254:0 /var/lib/box/rootfs / rw,relatime shared:5 - ext4 /dev/vda rw,discard
75 66 0:46 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
67 66 0:40 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
57 67 0:40 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw
45 67 0:46 /null /proc/keys rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
76 75 0:47 / /dev/pts rw,nosuid,noexec,relatime master:7 - devpts devpts rw,gid=5,mode=620
79 66 0:49 / /sys ro,nosuid,nodev,noexec,relatime unbindable - sysfs sysfs ro
90 80 0:38 / /orphan rw - tmpfs tmpfs rw
"""


def mounts():
    return [MountInfo(line) for line in MOUNTINFO.splitlines()]


def test_source_and_options_like_findmnt():
    m = {x.mountpoint: x for x in mounts()}
    assert source(m["/"]) == "/dev/vda[/var/lib/box/rootfs]"
    assert source(m["/proc"]) == "proc"
    assert source(m["/proc/keys"]) == "tmpfs[/null]"
    assert options(m["/"]) == "rw,relatime,discard"              # the fs's own rw dropped
    assert options(m["/sys"]) == "ro,nosuid,nodev,noexec,relatime"
    assert options(m["/dev"]) == "rw,nosuid,size=65536k,mode=755"


def test_tree_children_by_mount_id_and_orphans():
    t = Tree(mounts())
    assert [r.mountpoint for r in t.roots] == ["/", "/orphan"]
    assert [k.mountpoint for k in t.kids(t.roots[0])] == ["/proc", "/dev", "/sys"]      # ids 67, 75, 79
    assert [k.mountpoint for k in t.kids(t.by_id[67])] == ["/proc/keys", "/proc/sys"]  # ids 45, 57


def test_table_draws_the_tree_with_propagation():
    lines = to_table(Tree(mounts())).splitlines()
    assert lines[0].split() == ["TARGET", "SOURCE", "FSTYPE", "OPTIONS", "PROPAGATION"]
    assert lines[1].split()[0] == "/" and lines[1].endswith("shared:5")
    assert lines[2].startswith("├─/proc ")
    assert lines[3].startswith("│ ├─/proc/keys ")
    assert lines[4].startswith("│ └─/proc/sys ")
    assert lines[6].startswith("│ └─/dev/pts ") and lines[6].endswith("master:7")
    assert lines[7].startswith("└─/sys ") and lines[7].endswith("unbindable")
    assert lines[8].startswith("/orphan ") and lines[8].endswith("private")


def test_json_nests_children():
    doc = to_json(Tree(mounts()))
    root = doc[0]
    assert root["target"] == "/" and root["propagation"] == "shared:5"
    proc = next(c for c in root["children"] if c["target"] == "/proc")
    assert [c["target"] for c in proc["children"]] == ["/proc/keys", "/proc/sys"]
    assert "children" not in proc["children"][0]


def test_list_mode_is_flat_in_id_order():
    lines = to_table(Tree(mounts()), as_list=True, noheadings=True).splitlines()
    assert [line.split()[0] for line in lines] == ["/proc/keys", "/proc/sys", "/", "/proc", "/dev", "/dev/pts",
                                                   "/sys", "/orphan"]
