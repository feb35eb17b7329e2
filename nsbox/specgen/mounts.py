"""The mounts of a container: the standard set (runc spec's), the embedded host
root, ``-v`` and ``--tmpfs`` (used by nsbox.specgen.builder)."""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..spec import model as m

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .builder import Host, RootfsInput

HOST_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
PRIVATE_DIRS = (("/tmp", "mode=1777"), ("/root", "mode=700"), ("/home", "mode=755"),
                ("/run", "mode=755"), ("/var/tmp", "mode=1777"))
HOST_SECRETS = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers",
                "/etc/security/opasswd")
# Docker's defaults (moby oci/defaults.go), also runc spec's.
MASKED = ("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/interrupts")
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def standard_mounts(ns: dict[str, m.Namespace | None], host: Host) -> list[m.Mount]:
    """/proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys, /sys/fs/cgroup (runc spec's set)."""
    userns = ns["user"] is not None
    mounts = [
        m.Mount(destination="/proc", type="proc", source="proc", options=("nosuid", "noexec", "nodev")),
        m.Mount(destination="/dev", type="tmpfs", source="tmpfs",
                options=("nosuid", "strictatime", "mode=755", "size=65536k")),
        m.Mount(destination="/dev/pts", type="devpts", source="devpts",
                options=("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620")
                + (() if host.rootless else ("gid=5",))),
        m.Mount(destination="/dev/shm", type="tmpfs", source="shm",
                options=("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")),
        m.Mount(destination="/dev/mqueue", type="mqueue", source="mqueue",
                options=("nosuid", "noexec", "nodev")),
        m.Mount(destination="/sys", type="sysfs", source="sysfs",
                options=("nosuid", "noexec", "nodev", "ro")),
        m.Mount(destination="/sys/fs/cgroup", type="cgroup", source="cgroup",
                options=("nosuid", "noexec", "nodev", "relatime", "ro")),
    ]
    if ns["network"] is None and userns:
        # sysfs needs a network namespace owned by our user namespace (runc --rootless)
        mounts[5] = m.Mount(destination="/sys", type="none", source="/sys",
                            options=("rbind", "nosuid", "noexec", "nodev", "ro"))
    return mounts


def host_root_mounts(host: Host, rootfs: RootfsInput) -> list[m.Mount]:
    """The embedded default root: host system dirs read-only, private writable dirs.

    (/bin and friends are symlinks on merged-/usr systems: nsbox.image.rootfs
    recreates those in the root directory.)  /etc is an overlay on the host's,
    made read-only once set-up is done (it is in readonlyPaths): files can be
    bind-mounted on it (-v, /etc/resolv.conf) though the host's is never touched."""
    mounts: list[m.Mount] = []
    for d in HOST_SYSTEM_DIRS:
        if not host.lexists(d) or host.islink(d):
            continue
        if d == "/etc" and rootfs.upper:
            mounts.append(m.Mount(destination=d, type="overlay", source="overlay",
                                  options=("nosuid", "nodev", f"lowerdir={d}",
                                           f"upperdir={m.overlay_escape(rootfs.upper)}",
                                           f"workdir={m.overlay_escape(rootfs.work)}")))
            continue
        mounts.append(m.Mount(destination=d, type="bind", source=d,
                              options=("rbind", "rro", "nosuid", "nodev")))
    for d, mode in PRIVATE_DIRS:
        mounts.append(m.Mount(destination=d, type="tmpfs", source="tmpfs",
                              options=("nosuid", "nodev", mode)))
    return mounts


def host_secrets(host: Host) -> list[str]:
    """Files of the host's /etc a container must not read (masked with /dev/null)."""
    out = [p for p in HOST_SECRETS if host.lexists(p)]
    out += [f"/etc/ssh/{n}" for n in host.listdir("/etc/ssh") if n.endswith("_key")]
    return out


def parse_volume(text: str) -> m.Mount:
    """-v SRC:DST[:OPTS] with OPTS a comma list of ro|rw|propagation|nosuid|..."""
    parts = text.split(":")
    if len(parts) < 2 or len(parts) > 3 or not parts[0] or not parts[1]:
        raise ConfigError(f"-v `{text}`: expected SRC:DST[:OPTIONS]")
    src, dst = parts[0], parts[1]
    if not src.startswith("/"):
        src = os.path.abspath(src)
    if not dst.startswith("/"):
        raise ConfigError(f"-v `{text}`: destination `{dst}` must be an absolute path")
    opts = ["rbind"]
    if len(parts) == 3:
        for o in parts[2].split(","):
            o = o.strip()
            if o in ("ro", "rw", "rro", "private", "rprivate", "shared", "rshared", "slave", "rslave",
                     "unbindable", "runbindable", "nosuid", "nodev", "noexec", "suid", "dev", "exec"):
                opts.append(o)
            elif o in ("z", "Z", ""):
                continue  # SELinux relabel options: no SELinux here, accepted as Docker does
            else:
                raise ConfigError(f"-v `{text}`: unknown option `{o}`")
    if not os.path.exists(src):
        raise ConfigError(f"-v `{text}`: bind mount source `{src}` does not exist")
    return m.Mount(destination=dst, type="bind", source=src, options=tuple(opts))


def parse_tmpfs(text: str) -> m.Mount:
    dst, _, opts = text.partition(":")
    if not dst.startswith("/"):
        raise ConfigError(f"--tmpfs `{text}`: destination must be an absolute path")
    options = ["nosuid", "nodev"] + [o for o in opts.split(",") if o]
    if not any(o.startswith("mode=") for o in options):
        options.append("mode=1777")
    return m.Mount(destination=dst, type="tmpfs", source="tmpfs", options=tuple(options))
