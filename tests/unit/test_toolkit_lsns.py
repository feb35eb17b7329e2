"""nsbox ns: lsns's algorithm on a fake /proc (counts, first PID, process tree, columns)."""

from __future__ import annotations

import os

from nsbox.inspect import lsns
from nsbox.inspect.table import render, walk_tree

from .fakeproc import HOST, add_proc


def machine(tmp_path):
    proc = tmp_path / "proc"
    add_proc(proc, 1, 0, comm="init", cmdline="/sbin/init")
    add_proc(proc, 2, 0, comm="kthreadd")
    add_proc(proc, 25, 2, comm="kdevtmpfs", ns={"mnt": 4026531860})
    add_proc(proc, 100, 1, comm="bash", cmdline="bash -l")
    # a container: init 200 (child of the runtime 150, not in any ns row), and its child 201
    add_proc(proc, 150, 100, comm="nsbox", cmdline="nsbox run sleep 30")
    box = {"mnt": 4026532200, "net": 4026532201, "pid": 4026532202, "uts": 4026532203, "ipc": 4026532204}
    add_proc(proc, 200, 150, comm="sleep", cmdline="sleep 30", ns=box)
    add_proc(proc, 201, 200, comm="sh", cmdline="sh -c x", ns=box)
    # a process in its own net ns whose parent (bash) is a host row's first process? no: pid 1 is
    add_proc(proc, 300, 1, comm="svc", cmdline="svc --flag", ns={"net": 4026532300})
    return str(proc)


def test_counts_and_first_pid(tmp_path):
    proc = machine(tmp_path)
    rows = {ns.inode: ns for ns in lsns.scan(proc=proc)}
    assert rows[HOST["net"]].nprocs == 5  # 1, 2, 25, 100, 150
    assert rows[HOST["mnt"]].nprocs == 5  # 1, 2, 100, 150, 300
    assert rows[HOST["user"]].nprocs == 8
    assert rows[4026532201].nprocs == 2 and rows[4026532201].proc.pid == 200
    assert rows[4026532300].proc.pid == 300
    assert [ns.inode for ns in lsns.scan(proc=proc)] == sorted(rows)


def test_unreadable_links_are_left_out(tmp_path):
    proc = machine(tmp_path)
    os.unlink(f"{proc}/1/ns/net")  # as EACCES leaves it out for lsns
    rows = {ns.inode: ns for ns in lsns.scan(proc=proc)}
    assert rows[HOST["net"]].nprocs == 4
    assert rows[HOST["net"]].proc.pid == 2


def test_type_filter_and_pid_filter(tmp_path):
    proc = machine(tmp_path)
    only_net = lsns.scan(("net",), proc=proc)
    assert {ns.type for ns in only_net} == {"net"}
    assert [ns.inode for ns in only_net] == [HOST["net"], 4026532201, 4026532300]
    mine = lsns.select(lsns.scan(proc=proc), 201)
    assert len(mine) == 8 and {ns.inode for ns in mine} >= {4026532200, HOST["user"]}


def test_tree_and_table(tmp_path):
    proc = machine(tmp_path)
    rows = lsns.as_rows(lsns.scan(("mnt", "net"), proc=proc), proc=proc)
    text = lsns.format_table(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["NS", "TYPE", "NPROCS", "PID", "USER", "COMMAND", "CONTAINER"]
    assert lines[0].startswith("        NS TYPE  NPROCS")  # NS right-aligned in 10, TYPE hint 5
    # svc hangs under init's last row (init, pid 1, is the first process of the host rows);
    # kdevtmpfs's parent kthreadd stands for no row here, so it is a top row
    by_cmd = {r["command"]: r for r in rows}
    assert by_cmd["svc --flag"]["prefix"] == "└─"
    assert by_cmd["kdevtmpfs"]["prefix"] == ""
    order = [r["command"] for r in rows]
    assert order.index("svc --flag") == order.index("/sbin/init", 1) + 1  # right under init's net row
    # the container's init's parent (nsbox, pid 150) stands for no row: top level
    assert by_cmd["sleep 30"]["prefix"] == ""
    assert "/sbin/init" in lines[1] and lines[1].split()[:5] == [str(HOST["mnt"]), "mnt", "5", "1", "root"]


def test_command_falls_back_to_comm(tmp_path):
    proc = machine(tmp_path)
    assert lsns.command(2, proc) == "kthreadd"
    assert lsns.command(100, proc) == "bash -l"


def test_render_alignment_and_hints():
    out = render(("NS", "TYPE", "NPROCS"), [["1", "net", "3"], ["22", "cgroup", "10"]], right=(0, 2),
                 min_widths=(4,))
    assert out.splitlines() == ["  NS TYPE   NPROCS", "   1 net         3", "  22 cgroup     10"]
    assert render(("A", "B"), [["x", "y"]], noheadings=True) == "x y\n"


def test_walk_tree_prefixes():
    tree = {"/": ["/a", "/b"], "/a": ["/a/x"], "/b": ["/b/y", "/b/z"]}
    out = [(n, p) for n, p in walk_tree(["/"], lambda n: tree.get(n, []))]
    assert out == [("/", ""), ("/a", "├─"), ("/a/x", "│ └─"), ("/b", "└─"), ("/b/y", "  ├─"),
                   ("/b/z", "  └─")]
