"""``nsbox audit``: how well is a process isolated?  Findings with a severity and why.

The audit judges what it reads from /proc, never what nsbox meant to configure,
so it works for any process (Docker's, Podman's, systemd's) and stays right when
the defaults change.  :func:`gather` reads (procfs rooted anywhere, for tests);
:func:`judge` is pure.  Severities: high (a known way out, or the host fully
exposed), medium (a real weakening), low (defence in depth), info, ok.
"""

from __future__ import annotations

import os

from .. import procfs
from . import caps as C
from .target import NS_TYPES, host_reference, ns_inodes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SEVERITIES = ("high", "medium", "low", "info", "ok")

NS_WHY = {
    "mnt": ("high", "it sees the host's file systems and mounts, and can change them with privileges"),
    "pid": ("high", "it sees every host process and can signal or ptrace those it has rights over"),
    "net": ("high", "it can bind host ports, reach services listening on the host's 127.0.0.1 and "
                    "see host traffic with CAP_NET_RAW"),
    "ipc": ("medium", "host processes' System V shared memory, semaphores and message queues are reachable"),
    "uts": ("low", "with CAP_SYS_ADMIN it can change the host's hostname"),
    "cgroup": ("medium", "/proc/self/cgroup and a cgroupfs mount show the host's cgroup tree, leaking "
                         "the names of host services (system.slice)"),
    "user": ("medium", "its uids and capabilities are the host's, not confined to a user namespace"),
    "time": ("info", "clocks are the host's (the usual case: few runtimes create a time namespace)"),
}

# Capabilities that, held in the host's user namespace, are a known way out.
HIGH_CAPS = {"CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_DAC_READ_SEARCH",
             "CAP_BPF", "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_SYS_BOOT", "CAP_PERFMON"}
# Weakening but not an escape by themselves.
MEDIUM_CAPS = {"CAP_NET_ADMIN", "CAP_SYS_TIME", "CAP_SYSLOG", "CAP_SYS_RESOURCE", "CAP_SYS_NICE",
               "CAP_LINUX_IMMUTABLE", "CAP_IPC_OWNER", "CAP_AUDIT_CONTROL", "CAP_AUDIT_READ",
               "CAP_SYS_PACCT", "CAP_SYS_TTY_CONFIG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_LEASE",
               "CAP_IPC_LOCK", "CAP_CHECKPOINT_RESTORE"}
NET_CAPS = {"CAP_NET_ADMIN", "CAP_NET_RAW"}
# Docker's default set has these; Podman's (4.0+) and nsbox's do not.
BEYOND_DEFAULT = {"CAP_NET_RAW": "raw and packet sockets: spoofed packets and ARP on its network",
                  "CAP_MKNOD": "it can make device nodes (opened only where the device policy allows)",
                  "CAP_AUDIT_WRITE": "it can write records to the host's audit log"}

# Device numbers every container has (runc's default allow list, devices(7)).
SAFE_DEVICES = {(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (10, 200), (10, 229)}
SAFE_NODES = {"/null", "/zero", "/full", "/random", "/urandom", "/tty", "/console", "/ptmx", "/net/tun", "/fuse"}
PTS_MAJORS = {136, 137, 138, 139, 140, 141, 142, 143}
KERNEL_FILES = (("/proc/sys", "kernel parameters (kernel.core_pattern runs a program as host root)"),
                ("/proc/sysrq-trigger", "sysrq: crash or reboot the host"),
                ("/sys", "sysfs: devices, firmware and kernel settings"),
                ("/sys/fs/cgroup", "cgroupfs: with cgroup v1's release_agent, a way out (CVE-2022-0492)"))


class Facts:
    """What the audit reads about a process (any field None = unreadable)."""

    def __init__(self) -> None:
        self.pid = 0
        self.status: dict[str, str] = {}
        self.ns: dict[str, int] = {}
        self.host_ns: dict[str, int] = {}
        self.host_pid: int | str = 1
        self.uid_map: list[tuple[int, int, int]] | None = None
        self.mounts: list[procfs.MountInfo] | None = None
        self.host_mounts: list[procfs.MountInfo] | None = None
        self.devices: list[tuple[str, str, int, int]] | None = None   # (path, "b"|"c", major, minor)
        self.devices_cgroup: str | None = None                        # devices.list (cgroup v1)
        self.present: dict[str, bool] = {}                            # KERNEL_FILES seen from inside


def gather(pid: int, proc: str = "/proc", sys_fs_cgroup: str = "/sys/fs/cgroup") -> Facts:
    f = Facts()
    f.pid = pid
    f.status = procfs.status(pid, proc)
    f.ns = ns_inodes(pid, proc)
    f.host_pid, f.host_ns = host_reference(proc)
    f.uid_map = _try(procfs.read_id_map, pid, "uid", proc)
    f.mounts = _try(procfs.mountinfo, pid, proc)
    f.host_mounts = _try(procfs.mountinfo, f.host_pid, proc) or _try(procfs.mountinfo, "self", proc)
    f.devices = _try(list_devices, f"{proc}/{pid}/root/dev")
    f.devices_cgroup = _try(read_devices_list, pid, proc, sys_fs_cgroup)
    for path, _what in KERNEL_FILES:
        # a kernel without CONFIG_MAGIC_SYSRQ has no /proc/sysrq-trigger: nothing to protect
        f.present[path] = os.path.lexists(f"{proc}/{pid}/root{path}")
    return f


def _try(fn, *args: Any) -> Any:
    try:
        return fn(*args)
    except (OSError, ValueError):
        return None


def list_devices(dev: str, depth: int = 2) -> list[tuple[str, str, int, int]]:
    """Device nodes under the process's /dev (not following symlinks or mounts of /dev/pts)."""
    out = []
    with os.scandir(dev) as it:
        for e in it:
            st = e.stat(follow_symlinks=False)
            kind = st.st_mode & 0o170000
            if kind in (0o020000, 0o060000):
                out.append((e.path, "c" if kind == 0o020000 else "b", os.major(st.st_rdev), os.minor(st.st_rdev)))
            elif kind == 0o040000 and depth > 1 and e.name not in ("pts", "shm", "mqueue"):
                try:
                    out += list_devices(e.path, depth - 1)
                except OSError:
                    pass
    return out


def read_devices_list(pid: int, proc: str, sys_fs_cgroup: str) -> str | None:
    for _h, ctrls, path in procfs.cgroups(pid, proc):
        if "devices" in ctrls.split(","):
            with open(f"{sys_fs_cgroup}/devices{path}/devices.list") as f:
                return f.read()
    return None


class Finding:
    __slots__ = ("check", "severity", "finding", "why")

    def __init__(self, check: str, severity: str, finding: str, why: str = "") -> None:
        self.check = check
        self.severity = severity
        self.finding = finding
        self.why = why

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "severity": self.severity, "finding": self.finding, "why": self.why}


def judge(f: Facts) -> list[Finding]:
    out: list[Finding] = []
    shared = {t for t in NS_TYPES if t in f.ns and f.ns[t] == f.host_ns.get(t)}
    host_userns = "user" in shared
    out += check_namespaces(f, shared)
    out += check_root(f, host_userns)
    out += check_caps(f, host_userns, shared)
    out += check_nnp_seccomp(f)
    if "mnt" not in shared:
        out += check_propagation(f)
        out += check_writable(f, host_userns)
        out += check_devices(f, host_userns)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(out, key=lambda x: order[x.severity])


def check_namespaces(f: Facts, shared: set[str]) -> list[Finding]:
    out = []
    for t in NS_TYPES:
        check = f"namespace {t}"
        if t not in f.ns:
            out.append(Finding(check, "info", f"{t} namespace unreadable", "cannot compare it with the host's"))
        elif t not in f.host_ns:
            out.append(Finding(check, "info", f"{t} namespace {f.ns[t]}", "the host's is unreadable"))
        elif t in shared:
            sev, why = NS_WHY[t]
            out.append(Finding(check, sev, f"shares the host's {t} namespace", why))
        else:
            out.append(Finding(check, "ok", f"own {t} namespace ({f.ns[t]})"))
    return out


def _euid(f: Facts) -> int | None:
    parts = f.status.get("Uid", "").split()
    return int(parts[1]) if len(parts) > 1 else None


def to_host(id_map: list[tuple[int, int, int]], inside: int) -> int | None:
    for start, host, count in id_map:
        if start <= inside < start + count:
            return host + inside - start
    return None


def check_root(f: Facts, host_userns: bool) -> list[Finding]:
    euid = _euid(f)
    who = "root" if euid == 0 else f"uid {euid}"
    if f.uid_map is None:
        return [Finding("root mapping", "info", "uid_map unreadable", "cannot tell who it is on the host")]
    if host_userns:
        if euid == 0:
            return [Finding("root mapping", "medium", "root inside is root outside (no user namespace)",
                            "a process that escapes is the host's root; only capabilities, seccomp and "
                            "LSMs stand in the way")]
        return [Finding("root mapping", "low", f"runs as {who}, the same uid on the host (no user namespace)",
                        "files of that host uid are its files")]
    root_out = to_host(f.uid_map, 0)
    if root_out == 0:
        return [Finding("root mapping", "high", "uid 0 inside is uid 0 on the host (user namespace maps 0 to 0)",
                        "an escape lands as host root; map root to an unprivileged range")]
    if any(host <= 0 < host + n for _s, host, n in f.uid_map):
        return [Finding("root mapping", "medium", "host uid 0 is mapped into its user namespace",
                        "files owned by host root are owned by a uid inside")]
    outside = "unmapped" if root_out is None else f"uid {root_out}"
    return [Finding("root mapping", "ok", f"root inside is {outside} on the host (own user namespace)")]


def check_caps(f: Facts, host_userns: bool, shared: set[str]) -> list[Finding]:
    if not f.status:
        return []
    sets = C.from_status(f.status)
    eff, bnd = set(sets["effective"]), set(sets["bounding"])
    listed = f"effective: {_names(eff)}; bounding: {_names(bnd)}"
    if not host_userns:
        return [Finding("capabilities", "ok", f"{len(eff)} effective, {len(bnd)} bounding, all within its own "
                        "user namespace", listed)]
    high = set(HIGH_CAPS)
    if "net" in shared:
        high |= NET_CAPS
    nnp = f.status.get("NoNewPrivs") == "1"
    out = []
    if eff & high:
        out.append(Finding("capabilities", "high", f"effective in the host's user namespace: {_names(eff & high)}",
                           "each is a known way to the host (mount, modules, ptrace, raw I/O, open_by_handle_at)"))
    later = (bnd - eff) & high
    if later:
        out.append(Finding("capabilities", "low" if nnp else "medium",
                           f"bounding set keeps {_names(later)}",
                           "a setuid or file-capability binary can regain them" +
                           (" (no_new_privs blocks that)" if nnp else "")))
    if eff & (MEDIUM_CAPS - high):
        out.append(Finding("capabilities", "medium", f"effective: {_names(eff & (MEDIUM_CAPS - high))}",
                           "host-wide settings (clock, network, limits, logs) are within reach"))
    beyond = sorted(eff & set(BEYOND_DEFAULT) - high)
    if beyond:
        out.append(Finding("capabilities", "low", f"effective beyond Podman's default set: {', '.join(beyond)}",
                           "; ".join(BEYOND_DEFAULT[c] for c in beyond)))
    if not out:
        from ..specgen.privileges import DEFAULT_CAPS

        within = eff <= set(DEFAULT_CAPS)
        out.append(Finding("capabilities", "ok" if within else "low",
                           f"{len(eff)} effective, " + ("all within the default set (Podman's)" if within
                                                        else "none known to break out"), listed))
    return out


def _names(s: set[str]) -> str:
    return ", ".join(sorted(s)) or "none"


def check_nnp_seccomp(f: Facts) -> list[Finding]:
    if not f.status:
        return []
    out = []
    if f.status.get("NoNewPrivs") == "1":
        out.append(Finding("no_new_privs", "ok", "no_new_privs is set"))
    else:
        out.append(Finding("no_new_privs", "low", "no_new_privs is not set",
                           "setuid binaries and file capabilities can raise privileges inside"))
    mode = f.status.get("Seccomp", "0")
    if mode == "0":
        out.append(Finding("seccomp", "medium", "no seccomp filter",
                           "every system call reaches the kernel (keyctl, bpf, userfaultfd, unshare...): "
                           "its whole attack surface"))
    else:
        n = f.status.get("Seccomp_filters", "?")
        out.append(Finding("seccomp", "ok", "strict mode" if mode == "1" else f"filtered ({n} filter(s))"))
    return out


def check_propagation(f: Facts) -> list[Finding]:
    if f.mounts is None or f.host_mounts is None:
        return [Finding("mount propagation", "info", "mountinfo unreadable", "cannot compare peer groups")]
    host_groups = {t.split(":", 1)[1] for m in f.host_mounts for t in m.optional if t.startswith("shared:")}
    both, inbound = [], []
    for m in f.mounts:
        for t in m.optional:
            kind, _, group = t.partition(":")
            if group in host_groups and kind == "shared":
                both.append(m.mountpoint)
            elif group in host_groups and kind == "master":
                inbound.append(m.mountpoint)
    out = []
    if both:
        out.append(Finding("mount propagation", "high", f"shared with the host: {', '.join(both[:5])}",
                           "a mount made inside appears on the host, and the host's inside"))
    if inbound:
        out.append(Finding("mount propagation", "low", f"receives the host's mounts: {', '.join(inbound[:5])}",
                           "new host mounts (a USB disk, another container's volume) appear inside"))
    if not out:
        out.append(Finding("mount propagation", "ok", "no mount shares a peer group with the host"))
    return out


def covering(mounts: list[procfs.MountInfo], path: str) -> procfs.MountInfo | None:
    """The mount ``path`` is on (the last one mounted at the longest matching mountpoint)."""
    best = None
    for m in mounts:
        mp = m.mountpoint.rstrip("/") or "/"
        if path == mp or path.startswith(mp + "/") or mp == "/":
            if best is None or len(mp) >= len(best.mountpoint.rstrip("/") or "/"):
                best = m
    return best


def check_writable(f: Facts, host_userns: bool) -> list[Finding]:
    if f.mounts is None:
        return []
    out = []
    for path, what in KERNEL_FILES:
        if not f.present.get(path, True):
            continue
        m = covering(f.mounts, path)
        if m is None or m.fstype not in ("proc", "sysfs", "cgroup", "cgroup2", "tmpfs"):
            continue
        rw = "rw" in m.options.split(",")
        if m.fstype == "tmpfs" and path == "/sys/fs/cgroup":
            rw = rw and any(x.fstype in ("cgroup", "cgroup2") and "rw" in x.options.split(",")
                            for x in f.mounts if x.mountpoint.startswith("/sys/fs/cgroup/"))
        if not rw:
            continue
        sev = "high" if host_userns else "low"
        why = what if host_userns else f"{what}; its user namespace keeps most of it read-only"
        out.append(Finding("writable kernel interfaces", sev, f"{path} is writable", why))
    if not out:
        out.append(Finding("writable kernel interfaces", "ok", "/proc/sys, /proc/sysrq-trigger, /sys read-only"))
    return out


def check_devices(f: Facts, host_userns: bool) -> list[Finding]:
    out = []
    for m in f.mounts or []:
        # single safe nodes bound from the host's devtmpfs (rootless /dev/null) are fine
        if m.fstype == "devtmpfs" and m.root not in SAFE_NODES:
            what = "the host's /dev" if m.root == "/" else f"the host's /dev{m.root}"
            out.append(Finding("host devices", "high", f"{what} (devtmpfs) is mounted at {m.mountpoint}",
                               "host disks and device nodes are there to open"))
    for path, kind, major, minor in f.devices or []:
        if (major, minor) in SAFE_DEVICES or major in PTS_MAJORS:
            continue
        shown = path.split("/root", 1)[-1] or path
        if kind == "b" or (major, minor) in ((1, 1), (1, 2), (1, 4)):
            out.append(Finding("host devices", "high", f"{shown} ({kind} {major}:{minor})",
                               "raw access to a host disk or to kernel memory"))
        else:
            out.append(Finding("host devices", "medium", f"{shown} ({kind} {major}:{minor})",
                               "a host device node outside the usual container set"))
    dl = f.devices_cgroup
    if dl is not None and "a *:* rwm" in dl and host_userns and "CAP_MKNOD" in C.from_status(f.status)["effective"]:
        out.append(Finding("host devices", "medium", "the devices cgroup allows every device",
                           "with CAP_MKNOD it can create and open a node for any host disk"))
    if not out:
        out.append(Finding("host devices", "ok", "only the usual device nodes (null, zero, random, tty, pts...)"))
    return out
