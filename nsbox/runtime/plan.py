"""Spec -> the ordered list of root filesystem steps init will run.

The plan is computed in the parent before fork, from the spec and a few host
facts (are we in a new user namespace? may we mknod?), and compared in unit tests.
It carries container paths (``/proc``); the executor (rootfs.py) resolves them
inside the new root at run time, so a symlink in an untrusted rootfs cannot send
a mount outside it (CVE-2021-30465).

Order (runc's prepareRootfs, bubblewrap's setup_newroot):
 1. set "/" rslave (or rprivate) so nothing below propagates back to the host;
 2. mount the root (overlay, or bind it onto itself: pivot_root needs a mount);
 3. spec mounts, in the order given (parents before children);
 4. devices (mknod, or bind from the host where mknod is not allowed) and the
    standard /dev symlinks;
 5. pivot_root, detach the old root;
 6. masked paths, read-only paths, read-only root, final root propagation.
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..kernel.mount import MS_BIND, MS_PRIVATE, MS_REC, MS_SHARED, MS_SLAVE, MS_UNBINDABLE, parse_options
from ..spec import model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..spec.model import Spec

# OCI "Default Devices" (config-linux.md), created when the spec does not list them.
DEFAULT_DEVICES = (
    ("/dev/null", "c", 1, 3), ("/dev/zero", "c", 1, 5), ("/dev/full", "c", 1, 7),
    ("/dev/random", "c", 1, 8), ("/dev/urandom", "c", 1, 9), ("/dev/tty", "c", 5, 0),
)
DEV_SYMLINKS = (("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
                ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"))

ROOT_PROPAGATION = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC, "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC, "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}

# Option names whose effect is applied by remounting a bind mount.
REMOUNT_OPTIONS = {"ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "noatime",
                   "relatime", "strictatime", "nodiratime", "nosymfollow"}


class MountStep:
    __slots__ = ("dest", "source", "fstype", "flags", "data", "propagation", "remount",
                 "is_file", "recursive_ro", "kind", "fallback_ro", "idmap", "idmap_fd")

    def __init__(self, dest: str, source: str | None, fstype: str | None, flags: int, data: str,
                 propagation: int = 0, remount: int = 0, is_file: bool = False,
                 recursive_ro: bool = False, kind: str = "fs") -> None:
        self.dest = dest
        self.source = source
        self.fstype = fstype
        self.flags = flags
        self.data = data
        self.propagation = propagation
        self.remount = remount  # flags for MS_REMOUNT|MS_BIND after a bind (bind ignores them)
        self.is_file = is_file
        self.recursive_ro = recursive_ro
        self.kind = kind  # "fs", "bind" or "cgroup"
        self.fallback_ro = False  # set by the executor when it had to bind the host's instead
        # an idmapped bind (runtime/idmap.py): (uid ranges, gid ranges, recursive); the parent
        # makes a user namespace with those maps and puts its fd in idmap_fd before fork
        self.idmap: tuple | None = None
        self.idmap_fd = -1

    def __repr__(self) -> str:
        return f"MountStep({self.kind} {self.source!r} -> {self.dest!r} {self.fstype} flags={self.flags:#x})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MountStep) and all(
            getattr(self, s) == getattr(other, s) for s in self.__slots__ if s not in ("fallback_ro", "idmap_fd"))


class DeviceStep:
    __slots__ = ("dest", "type", "major", "minor", "mode", "uid", "gid", "bind")

    def __init__(self, dest: str, type: str, major: int, minor: int, mode: int, uid: int, gid: int,
                 bind: bool) -> None:
        self.dest, self.type, self.major, self.minor = dest, type, major, minor
        self.mode, self.uid, self.gid, self.bind = mode, uid, gid, bind

    def __repr__(self) -> str:
        how = "bind" if self.bind else "mknod"
        return f"DeviceStep({how} {self.dest} {self.type} {self.major}:{self.minor})"


class Plan:
    """Everything init does to the filesystem, in order."""

    def __init__(self) -> None:
        self.setup_rootfs = True
        self.root = ""
        self.overlay: tuple[str, str, str] | None = None  # (lowerdir value, upper, work)
        self.userxattr = False
        self.initial_propagation = MS_SLAVE | MS_REC
        self.mounts: list[MountStep] = []
        self.devices: list[DeviceStep] = []
        self.symlinks: list[tuple[str, str]] = []
        self.console = False
        self.masked: list[str] = []
        self.readonly: list[str] = []
        self.readonly_root = False
        self.final_propagation = MS_PRIVATE  # applied to every mount but `explicit` ones
        self.explicit: list[str] = []  # destinations whose mount options chose a propagation
        self.cgroup_ns = False
        # file systems the kernel may refuse us a fresh instance of (a user namespace
        # that does not own the namespace behind them): bind the host's instead
        self.host_fallback: set[str] = set()


def clean_dest(dest: str, where: str) -> str:
    if not dest.startswith("/"):
        raise ConfigError(f"{where}: mount destination `{dest}` must be an absolute path")
    norm = os.path.normpath(dest)
    if norm.startswith("//"):
        norm = norm[1:]
    return norm


def mount_step(m: model.Mount, index: int, source_is_file: bool, new_userns: bool = False) -> MountStep:
    where = f"mounts[{index}]"
    dest = clean_dest(m.destination, where)
    opts = list(m.options)
    idmap = "idmap" in opts or "ridmap" in opts or bool(m.uid_mappings)
    recursive_idmap = "ridmap" in opts
    opts = [o for o in opts if o not in ("idmap", "ridmap")]  # not mount(2) options (config.md)
    rro = "rro" in opts
    opts = [o for o in opts if o != "rro"] + (["ro"] if rro else [])
    flags, prop, data = parse_options(opts)
    fstype = m.type
    is_bind = bool(flags & MS_BIND) or fstype in ("bind", "rbind")
    if fstype in ("bind", "rbind"):
        flags |= MS_BIND | (MS_REC if fstype == "rbind" else 0)
        fstype = None
    if is_bind:
        if not m.source:
            raise ConfigError(f"{where}: bind mount to `{dest}` needs a source")
        remount = flags & ~(MS_BIND | MS_REC)
        step = MountStep(dest, m.source, None, flags & (MS_BIND | MS_REC), "", prop, remount,
                         is_file=source_is_file, recursive_ro=rro and bool(flags & MS_REC), kind="bind")
        if idmap:
            step.idmap = (tuple((x.container_id, x.host_id, x.size) for x in m.uid_mappings),
                          tuple((x.container_id, x.host_id, x.size) for x in m.gid_mappings), recursive_idmap)
        return step
    if idmap:
        raise ConfigError(f"{where}: idmap/ridmap needs a bind mount (mount_setattr(2) MOUNT_ATTR_IDMAP)")
    if fstype == "cgroup" or fstype == "cgroup2":
        return MountStep(dest, m.source, fstype, flags, data, prop, kind="cgroup")
    if not fstype:
        raise ConfigError(f"{where}: mount to `{dest}` needs a type (or the bind option)")
    if fstype == "overlay" and new_userns and "userxattr" not in data.split(","):
        data += ",userxattr"  # overlayfs in a user namespace keeps its xattrs in user.*
    return MountStep(dest, m.source or fstype, fstype, flags, data, prop)


def make_plan(spec: Spec, *, new_userns: bool, rootless: bool, cgroup_ns: bool,
              source_is_file=os.path.isfile) -> Plan:
    """Build the plan; ``new_userns``/``rootless`` decide mknod vs bind and devpts options."""
    p = Plan()
    linux = spec.linux or model.Linux()
    mnt = linux.namespace("mount")
    if mnt is None or mnt.path:
        p.setup_rootfs = False  # the host's (or a joined) mount namespace: leave it alone
        return p
    if spec.root is None:
        raise ConfigError("root.path: is required when the container has its own mount namespace")
    p.root = spec.root.path
    p.cgroup_ns = cgroup_ns
    if new_userns:
        owned = {ns.type for ns in linux.namespaces if not ns.path}
        p.host_fallback = {fs for fs, kind in (("sysfs", "network"), ("mqueue", "ipc"), ("proc", "pid"))
                           if kind not in owned}
    ann = spec.annotations
    lower = ann.get(model.ANN_OVERLAY_LOWER)
    if lower:
        p.overlay = (lower, ann.get(model.ANN_OVERLAY_UPPER, ""), ann.get(model.ANN_OVERLAY_WORK, ""))
        p.userxattr = new_userns
    prop = linux.rootfs_propagation
    if prop and prop not in ROOT_PROPAGATION:
        raise ConfigError(f"linux.rootfsPropagation: `{prop}` is not one of {', '.join(ROOT_PROPAGATION)}")
    # Set-up happens under rslave, so that nothing we mount propagates to the
    # host while mounts from the host still reach volumes that ask for it
    # (-v SRC:DST:rslave).  After pivot_root every mount without a propagation
    # option of its own gets the root's (default private).  Mounts made inside
    # never propagate back to the host: "shared" is shared within the container.
    p.initial_propagation = MS_SLAVE | MS_REC
    p.final_propagation = ROOT_PROPAGATION[prop] & ~MS_REC if prop else MS_PRIVATE
    p.readonly_root = spec.root.readonly

    has_devpts = False
    for i, m in enumerate(spec.mounts):
        step = mount_step(m, i, bool(m.source) and source_is_file(m.source), new_userns)
        if step.fstype == "devpts":
            has_devpts = True  # (gid=5 unmapped in a user namespace: the executor retries without it)
        p.mounts.append(step)
        if step.propagation:
            p.explicit.append(step.dest)

    may_mknod = not new_userns and not rootless
    listed = {d.path for d in linux.devices}
    for path, kind, major, minor in DEFAULT_DEVICES:
        if path not in listed:
            p.devices.append(DeviceStep(path, kind, major, minor, 0o666, 0, 0, bind=not may_mknod))
    for d in linux.devices:
        if d.major is None and d.type != "p":
            raise ConfigError(f"linux.devices: `{d.path}` needs major and minor numbers")
        p.devices.append(DeviceStep(clean_dest(d.path, "linux.devices"), d.type, d.major or 0,
                                    d.minor or 0, d.file_mode if d.file_mode is not None else 0o666,
                                    d.uid or 0, d.gid or 0, bind=not may_mknod))
    p.symlinks = list(DEV_SYMLINKS)
    if has_devpts:
        p.symlinks.append(("pts/ptmx", "/dev/ptmx"))
    p.console = bool(spec.process and spec.process.terminal)
    p.masked = [clean_dest(x, "linux.maskedPaths") for x in linux.masked_paths]
    p.readonly = [clean_dest(x, "linux.readonlyPaths") for x in linux.readonly_paths]
    return p
