"""A fake /proc tree for the toolkit's unit tests (psutil's PROCFS_PATH idea)."""

from __future__ import annotations

import os

NS = ("mnt", "net", "pid", "uts", "ipc", "user", "cgroup", "time")
HOST = {t: 4026531830 + i for i, t in enumerate(NS)}


def add_proc(proc, pid: int, ppid: int = 1, *, comm: str = "sh", cmdline: str = "", ns: dict | None = None,
             status: dict | None = None, uid_map: str = "0 0 4294967295\n", mountinfo: str = "",
             cgroup: str = "0::/\n") -> str:
    d = proc / str(pid)
    (d / "ns").mkdir(parents=True)
    (d / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 "
                            f"{1000 + pid} 0 0\n")
    (d / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in cmdline.split()) if cmdline else b"")
    (d / "comm").write_text(comm + "\n")
    merged = dict(HOST)
    merged.update(ns or {})
    for t, ino in merged.items():
        if ino is not None:
            os.symlink(f"{t}:[{ino}]", d / "ns" / t)
    st = {"Name": comm, "State": "S (sleeping)", "PPid": str(ppid), "Uid": "0\t0\t0\t0", "Gid": "0\t0\t0\t0",
          "NSpid": str(pid), "CapInh": "0000000000000000", "CapPrm": "000001ffffffffff",
          "CapEff": "000001ffffffffff", "CapBnd": "000001ffffffffff", "CapAmb": "0000000000000000",
          "NoNewPrivs": "0", "Seccomp": "0", "Seccomp_filters": "0"}
    st.update(status or {})
    (d / "status").write_text("".join(f"{k}:\t{v}\n" for k, v in st.items()))
    (d / "uid_map").write_text(uid_map)
    (d / "gid_map").write_text(uid_map)
    (d / "mountinfo").write_text(mountinfo)
    (d / "cgroup").write_text(cgroup)
    return str(d)
