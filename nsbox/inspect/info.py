"""``nsbox inspect``: everything about one process's isolation, as a JSON document.

Works for any PID (Docker's, Podman's, a systemd service's, an ``unshare``):
each field is read on its own and an unreadable one becomes null, with the
reason in ``errors``, rather than failing the whole report.
"""

from __future__ import annotations

import os

from .. import procfs
from . import caps
from .target import NS_TYPES, Target, host_reference, ns_inode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STATES = {"R": "running", "S": "sleeping", "D": "disk-sleep", "T": "stopped", "t": "tracing-stop",
          "Z": "zombie", "X": "dead", "I": "idle", "P": "parked"}
SECCOMP = {"0": "disabled", "1": "strict", "2": "filter"}


class Report:
    """Collects fields; a failing reader records its error instead of raising."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def get(self, what: str, fn, *args: Any) -> Any:
        try:
            return fn(*args)
        except OSError as e:
            self.errors.append(f"{what}: {e.strerror or e}")
        except Exception as e:  # noqa: BLE001 - a malformed /proc file must not stop the report
            self.errors.append(f"{what}: {e}")
        return None


def namespaces(pid: int, host: dict[str, int], proc: str = "/proc") -> list[dict[str, Any]]:
    out = []
    for t in NS_TYPES:
        ino = ns_inode(pid, t, proc)
        if ino is None and not os.path.lexists(f"{proc}/{pid}/ns/{t}"):
            continue  # a kernel without this namespace type
        shared = None if ino is None or t not in host else ino == host[t]
        out.append({"type": t, "inode": ino, "shared_with_host": shared,
                    "path": f"/proc/{pid}/ns/{t}"})
    return out


def id_map(pid: int, which: str, proc: str = "/proc") -> list[dict[str, int]]:
    """/proc/PID/{uid,gid}_map as read from here: host ids relative to our user namespace."""
    return [{"inside": a, "outside": b, "count": n} for a, b, n in procfs.read_id_map(pid, which, proc)]


def cgroup_info(pid: int, proc: str = "/proc") -> tuple[str | None, list[dict[str, str]]]:
    """(the cgroup path, every hierarchy's line).  The path is the unified (v2)
    one, or on a hybrid system the v1 controllers' when cgroup2 holds none."""
    lines = procfs.cgroups(pid, proc)
    entries = [{"hierarchy": h, "controllers": c, "path": p} for h, c, p in lines]
    unified = next((p for h, c, p in lines if h == "0" and c == ""), None)
    v1 = [p for h, c, p in lines if c != "" and p != "/"]
    if unified is not None and (unified != "/" or not v1):
        return unified, entries
    if v1:
        return max(set(v1), key=v1.count), entries
    return unified or (lines[0][2] if lines else None), entries


def process(pid: int, status: dict[str, str], proc: str = "/proc") -> dict[str, Any]:
    def ids(field: str) -> dict[str, int] | None:
        parts = status.get(field, "").split()
        if len(parts) < 4:
            return None
        return dict(zip(("real", "effective", "saved", "filesystem"), (int(x) for x in parts)))

    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            args = [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
    except OSError:
        args = []
    st = status.get("State", "?")[:1]
    return {"comm": status.get("Name"), "args": args, "ppid": int(status.get("PPid", "0") or 0),
            "state": STATES.get(st, st), "uid": ids("Uid"), "gid": ids("Gid"),
            "nspid": [int(x) for x in status.get("NSpid", "").split()]}


def rootfs(target: Target, mounts: list[procfs.MountInfo] | None) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    if target.container is not None:
        out["path"] = (_config(target) or {}).get("root", {}).get("path")
    root = next((m for m in reversed(mounts or []) if m.mountpoint == "/"), None)
    if root is not None:
        out.update(source=root.source, fstype=root.fstype, root=root.root, options=root.options)
    return out or None


def _config(target: Target) -> dict | None:
    if target.container is None:
        return None
    from .. import jsonio

    try:
        return jsonio.load_file(f"{target.container.path}/config.json")
    except (OSError, ValueError):
        return None


def inspect(target: Target, proc: str = "/proc") -> dict[str, Any]:
    """The document ``nsbox inspect`` prints."""
    rep = Report()
    doc: dict[str, Any] = {"pid": target.pid}
    if target.container is not None:
        st = target.state
        # the live status, as `nsbox ps` shows it: "running" only while its init is alive
        doc.update(id=target.container.id, name=st.get("name"), state=target.container.live_status(),
                   created=st.get("created"), bundle=st.get("bundle"))
    pid = target.pid
    if not pid:
        doc["config"] = _config(target)
        return doc
    status = rep.get("status", procfs.status, pid, proc) or {}
    if target.container is None:
        doc["state"] = STATES.get(status.get("State", "?")[:1], "unknown")
    doc["process"] = process(pid, status, proc)
    host_pid, host = host_reference(proc)
    doc["host_reference_pid"] = host_pid
    doc["namespaces"] = rep.get("namespaces", namespaces, pid, host, proc)
    doc["uid_map"] = rep.get("uid_map", id_map, pid, "uid", proc)
    doc["gid_map"] = rep.get("gid_map", id_map, pid, "gid", proc)
    doc["capabilities"] = caps.from_status(status) if status else None
    doc["no_new_privs"] = status.get("NoNewPrivs") == "1" if "NoNewPrivs" in status else None
    doc["seccomp"] = {"mode": SECCOMP.get(status.get("Seccomp", ""), status.get("Seccomp")),
                      "filters": int(status.get("Seccomp_filters", "0") or 0)} if status else None
    cg = rep.get("cgroup", cgroup_info, pid, proc)
    doc["cgroup"], doc["cgroups"] = cg if cg else (None, None)
    uts = rep.get("hostname", _uts, pid, proc)
    doc["hostname"], doc["domainname"] = uts if uts else (None, None)
    mounts = rep.get("mounts", procfs.mountinfo, pid, proc)
    doc["rootfs"] = rootfs(target, mounts)
    doc["mounts"] = [m.as_dict() for m in mounts] if mounts is not None else None
    if target.container is not None:
        reg = [r.get("path") for r in target.state.get("resources", []) if r.get("kind") == "netns"]
        doc["netns"] = reg[0] if reg else None  # `ip netns exec` name: /run/netns/<name>
        doc["config"] = _config(target)
    if rep.errors:
        doc["errors"] = rep.errors
    return doc


def _uts(pid: int, proc: str) -> tuple[str, str]:
    from . import uts

    return uts.read(pid, proc)
