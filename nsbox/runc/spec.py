"""``nsbox-runc spec [--bundle DIR] [--rootless]``: write a default config.json.

The container it describes runs ``sh`` with a terminal in ``rootfs/``, in new
pid, network, ipc, uts, mount and cgroup namespaces, with the default
capabilities, masked and read-only paths of a hardened container.
``--rootless`` maps the caller to root in a new user namespace, keeps the
host's network namespace (an unprivileged user cannot create interfaces to
reach it anyway) and binds /sys (a fresh sysfs needs a network namespace
the user owns)."""

from __future__ import annotations

import os

from ..errors import Conflict
from ..spec.model import OCI_VERSION
from .opts import Opt, parse

OPTIONS = [Opt("-b --bundle", "bundle", help="where to write config.json (default: here)"),
           Opt("--rootless", "rootless", "bool", help="a config for an unprivileged user")]

CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
MASKED = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def default(rootless: bool = False) -> dict:
    caps = {k: list(CAPS) for k in ("bounding", "effective", "permitted")}
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ]
    namespaces = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")]
    linux: dict = {"resources": {"devices": [{"allow": False, "access": "rwm"}]}, "namespaces": namespaces,
                   "maskedPaths": list(MASKED), "readonlyPaths": list(READONLY)}
    if rootless:
        mounts[2]["options"] = [o for o in mounts[2]["options"] if o != "gid=5"]
        mounts[5] = {"destination": "/sys", "type": "none", "source": "/sys",
                     "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
        linux["namespaces"] = [n for n in namespaces if n["type"] != "network"] + [{"type": "user"}]
        linux["uidMappings"] = [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
        del linux["resources"]
    return {
        "ociVersion": OCI_VERSION,
        "process": {"terminal": True, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
                    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                    "cwd": "/", "capabilities": caps,
                    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                    "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "nsbox-runc",
        "mounts": mounts,
        "linux": linux,
    }


def main(name: str, argv: list[str]) -> int:
    from .. import jsonio

    v, pos = parse(name, "spec [--bundle DIR] [--rootless]", OPTIONS, argv)
    if pos:
        from .opts import UsageError

        raise UsageError(f"{name}: unexpected argument `{pos[0]}`")
    path = os.path.join(v["bundle"] or ".", "config.json")
    if os.path.lexists(path):
        raise Conflict(f"spec: `{path}` already exists (remove it first)")
    text = jsonio.dumps(default(bool(v["rootless"])), indent=2) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise Conflict(f"spec: write `{path}`: {e.strerror}") from None
    return 0
