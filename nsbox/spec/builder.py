"""RunOptions -> Spec: the one place ``nsbox run`` flags become an OCI config.

The Python API fills the same RunOptions, so both get the same container.  Host
facts (who is calling, /etc/subuid, which system directories exist) come from a
:class:`Host`, which unit tests replace.
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from . import model as m
from .options import RESOURCE_FIELDS, RunOptions


def default_device_rules() -> list[dict]:
    from ..cgroups.devices import default_rules

    return default_rules()

KIND_ALIASES = {"net": "network", "network": "network", "mnt": "mount", "mount": "mount",
                "pid": "pid", "ipc": "ipc", "uts": "uts", "cgroup": "cgroup", "time": "time",
                "user": "user"}
ALL_KINDS = ("user", "mount", "pid", "network", "ipc", "uts", "cgroup", "time")
PROC_LINK = {"user": "user", "mount": "mnt", "pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts",
             "cgroup": "cgroup", "time": "time"}
HOST_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
PRIVATE_DIRS = (("/tmp", "mode=1777"), ("/root", "mode=700"), ("/home", "mode=755"),
                ("/run", "mode=755"), ("/var/tmp", "mode=1777"))
HOST_SECRETS = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers",
                "/etc/security/opasswd")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Docker's defaults (moby oci/defaults.go), also runc spec's.
MASKED = ("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/interrupts")
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


class Host:
    """What the builder needs to know about the calling user and machine."""

    def __init__(self, euid: int | None = None, egid: int | None = None, *,
                 subuid: str = "/etc/subuid", subgid: str = "/etc/subgid", root: str = "") -> None:
        self.euid = os.geteuid() if euid is None else euid
        self.egid = os.getegid() if egid is None else egid
        self.subuid = subuid
        self.subgid = subgid
        self.root = root  # prefix for host paths (tests point it at a fake tree)

    @property
    def rootless(self) -> bool:
        return self.euid != 0

    def lexists(self, p: str) -> bool:
        return os.path.lexists(self.root + p)

    def islink(self, p: str) -> bool:
        return os.path.islink(self.root + p)

    def readlink(self, p: str) -> str:
        return os.readlink(self.root + p)

    def listdir(self, p: str) -> list[str]:
        try:
            return sorted(os.listdir(self.root + p))
        except OSError:
            return []

    def user_name(self) -> str:
        from ..runtime.userns import username

        return username(self.euid)

    def container_pid(self, ref: str, what: str) -> int:
        """The init PID of a running nsbox container (``--pid container:NAME``)."""
        from ..errors import ContainerNotFound
        from ..runtime.state import Store

        try:
            st = Store().lookup(ref).read()
        except ContainerNotFound:
            raise ConfigError(f"{what}: no such container `{ref}`") from None
        from ..procfs import alive

        pid = int(st.get("pid") or 0)
        if st.get("status") not in ("created", "running", "paused") or not alive(pid, st.get("pidStart")):
            raise ConfigError(f"{what}: container `{ref}` is not running")
        return pid

    def ns_identity(self, path: str) -> str | None:
        try:
            return os.readlink(self.root + path)
        except OSError:
            return None


class RootfsInput:
    """The root filesystem as prepared for the engine (nsbox.image.rootfs).

    ``root`` is the directory the container's "/" is mounted at; ``lowers``
    (read-only, top first) with ``upper``/``work`` make it an overlay; ``host``
    means the embedded default (host system directories, read-only)."""

    def __init__(self, root: str, lowers: tuple[str, ...] = (), upper: str = "", work: str = "",
                 host: bool = False, passwd: str | None = None) -> None:
        self.root = root
        self.lowers = lowers
        self.upper = upper
        self.work = work
        self.host = host
        self.passwd = passwd  # where to look up user names (the image's /etc/passwd)


def kind_name(value: str, flag: str) -> str:
    k = KIND_ALIASES.get(value.strip().lower())
    if k is None:
        raise ConfigError(f"{flag} `{value}`: unknown namespace kind (one of: {', '.join(ALL_KINDS)})")
    return k


def namespaces(o: RunOptions, host: Host) -> dict[str, m.Namespace | None]:
    """Kind -> Namespace (new when path is None) or None (shared with the host)."""
    out: dict[str, m.Namespace | None] = {k: m.Namespace(type=k) for k in ALL_KINDS}
    if not host.rootless:
        out["user"] = None  # as runc: no user namespace for root unless asked

    def share(kind: str) -> None:
        out[kind] = None

    def join(kind: str, path: str, flag: str) -> None:
        if not path:
            raise ConfigError(f"{flag}: a namespace path is needed")
        out[kind] = m.Namespace(type=kind, path=path)

    for item in o.share:
        for part in item.split(","):
            if part.strip():
                share(kind_name(part, "--share"))
    for item in o.ns:
        kind, eq, path = item.partition("=")
        if not eq:
            raise ConfigError(f"--ns `{item}`: expected KIND=PATH (e.g. net=/run/netns/blue)")
        join(kind_name(kind, "--ns"), path, f"--ns {item}")
    joined_pids: list[tuple[int, str]] = []
    for kind, flag, value in (("network", "--network", o.network), ("pid", "--pid", o.pid),
                              ("ipc", "--ipc", o.ipc), ("uts", "--uts", o.uts),
                              ("cgroup", "--cgroupns", o.cgroupns)):
        if value is None:
            continue
        if value.startswith("container:"):
            # Docker's and Podman's spelling: the namespace of another container's init
            pid = host.container_pid(value[len("container:"):], f"{flag} `{value}`")
            join(kind, f"/proc/{pid}/ns/{PROC_LINK[kind]}", f"{flag} {value}")
            joined_pids.append((pid, f"{flag} {value}"))
        elif value == "host":
            share(kind)
        elif kind == "network" and not value.startswith(("ns:", "/", "container:")):
            from ..net.mode import parse as parse_network

            parse_network(value)  # none, bridge, NAME, veth:, pasta, slirp4netns: a new namespace
            out[kind] = m.Namespace(type=kind)
        elif value in ("private", "new"):
            out[kind] = m.Namespace(type=kind)
        elif value.startswith("ns:") or value.startswith("/"):
            join(kind, value[3:] if value.startswith("ns:") else value, f"{flag} {value}")
        else:
            raise ConfigError(f"{flag} `{value}`: expected host, private, ns:PATH"
                              + (" or none" if kind == "network" else "") + " (or container:NAME)")
    if o.userns is not None:
        v = o.userns
        if v == "host":
            share("user")
        elif v in ("private", "new", "auto", "keep-id"):
            out["user"] = m.Namespace(type="user")
        elif v.startswith("container:"):
            pid = host.container_pid(v[len("container:"):], f"--userns `{v}`")
            join("user", f"/proc/{pid}/ns/user", f"--userns {v}")
        elif v.startswith("ns:") or v.startswith("/"):
            join("user", v[3:] if v.startswith("ns:") else v, f"--userns {v}")
        else:
            raise ConfigError(f"--userns `{v}`: expected host, private, auto, container:NAME or ns:PATH")
    if joined_pids and o.userns is None and not (o.uidmap or o.gidmap):
        join_owner_userns(out, joined_pids, host)
    if (o.uidmap or o.gidmap) and out["user"] is None:
        if o.userns == "host":
            raise ConfigError("--uidmap/--gidmap: cannot be used with --userns host")
        out["user"] = m.Namespace(type="user")
    if host.rootless and out["user"] is None:
        raise ConfigError("--userns host: an unprivileged user needs a new user namespace to create "
                          "the others (run as root, or drop --userns host / --share user)")
    return out


def join_owner_userns(out: dict[str, m.Namespace | None], joined: list[tuple[int, str]], host: Host) -> None:
    """Joining a container that has its own user namespace means joining that
    too (as Podman does): its other namespaces are owned by it, and only there
    do we have the capabilities to mount its PID namespace's /proc."""
    own = host.ns_identity("/proc/self/ns/user")
    found: dict[str, tuple[str, str]] = {}
    for pid, flag in joined:
        path = f"/proc/{pid}/ns/user"
        ident = host.ns_identity(path)
        if ident is not None and ident != own:
            found.setdefault(ident, (path, flag))
    if len(found) > 1:
        flags = " and ".join(flag for _p, flag in found.values())
        raise ConfigError(f"{flags}: the containers are in different user namespaces; a container "
                          "can be in only one")
    if found:
        path, _flag = next(iter(found.values()))
        out["user"] = m.Namespace(type="user", path=path)


def parse_map(text: str, flag: str) -> m.IDMapping:
    parts = text.split(":")
    if len(parts) != 3:
        raise ConfigError(f"{flag} `{text}`: expected INSIDE:OUTSIDE:COUNT")
    try:
        inside, outside, count = (int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"{flag} `{text}`: INSIDE, OUTSIDE and COUNT must be integers") from None
    return m.IDMapping(container_id=inside, host_id=outside, size=count)


def id_maps(o: RunOptions, host: Host) -> tuple[tuple[m.IDMapping, ...], tuple[m.IDMapping, ...]]:
    from ..runtime import userns

    uids = tuple(parse_map(x, "--uidmap") for x in o.uidmap)
    gids = tuple(parse_map(x, "--gidmap") for x in o.gidmap)
    if o.userns == "auto":
        if uids or gids:
            raise ConfigError("--userns auto: cannot be combined with --uidmap/--gidmap")
        return auto_maps(host)
    if not uids and gids:
        raise ConfigError("--gidmap given without --uidmap: give both")
    if uids and not gids:
        gids = tuple(m.IDMapping(container_id=x.container_id, host_id=x.host_id, size=x.size) for x in uids)
    if not uids:
        if host.rootless:
            uids = (m.IDMapping(container_id=0, host_id=host.euid, size=1),)
            gids = (m.IDMapping(container_id=0, host_id=host.egid, size=1),)
        else:
            raise ConfigError("--userns private as root: give the maps (--uidmap 0:100000:65536) or "
                              "use --userns auto (a range from /etc/subuid)")
    userns.check_rules("uid", userns.ranges(uids))
    userns.check_rules("gid", userns.ranges(gids))
    if host.rootless:
        name = host.user_name()
        userns.check_rootless("uid", userns.ranges(uids), host.euid, name, host.subuid)
        userns.check_rootless("gid", userns.ranges(gids), host.egid, name, host.subgid)
    return uids, gids


def auto_maps(host: Host) -> tuple[tuple[m.IDMapping, ...], tuple[m.IDMapping, ...]]:
    """--userns=auto: the caller's whole subordinate range (root inside = caller if rootless)."""
    from ..runtime.userns import read_subids

    name = host.user_name()
    out = []
    for which, path, own in (("uid", host.subuid, host.euid), ("gid", host.subgid, host.egid)):
        granted = read_subids(path, name, own)
        if not granted:
            raise ConfigError(f"--userns auto: {path} grants no {which} range to `{name}` "
                              f"(add a line `{name}:100000:65536`)")
        maps = []
        if host.rootless:
            maps.append(m.IDMapping(container_id=0, host_id=own, size=1))
        nxt = len(maps)
        for start, count in granted:
            maps.append(m.IDMapping(container_id=nxt, host_id=start, size=count))
            nxt += count
        out.append(tuple(maps))
    return out[0], out[1]


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


def time_offsets(o: RunOptions, timens: bool) -> dict[str, m.TimeOffset]:
    out: dict[str, m.TimeOffset] = {}
    for item in o.time_offset:
        clock, eq, value = item.partition("=")
        if not eq or clock not in ("monotonic", "boottime"):
            raise ConfigError(f"--time-offset `{item}`: expected monotonic=SECONDS or boottime=SECONDS")
        try:
            secs = float(value)
        except ValueError:
            raise ConfigError(f"--time-offset `{item}`: `{value}` is not a number of seconds") from None
        whole = int(secs // 1)
        out[clock] = m.TimeOffset(secs=whole, nanosecs=int(round((secs - whole) * 1e9)))
    if out and not timens:
        raise ConfigError("--time-offset: needs a new time namespace (drop --share time)")
    return out


def parse_user(spec: str | None, passwd: str | None) -> m.User:
    """-u UID[:GID] or NAME[:GROUP], names looked up in the root's /etc/passwd."""
    if not spec:
        return m.User(uid=0, gid=0)
    u, _, g = spec.partition(":")
    uid = _lookup(u, passwd, 2, "-u user")
    gid: int
    if g:
        gid = _lookup(g, passwd.replace("passwd", "group") if passwd else None, 2, "-u group")
    else:
        gid = _passwd_gid(uid, passwd)
    return m.User(uid=uid, gid=gid)


def _read_db(path: str | None) -> list[list[str]]:
    if not path:
        return []
    try:
        with open(path) as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip() and not line.startswith("#")]
    except OSError:
        return []


def _lookup(value: str, path: str | None, idx: int, what: str) -> int:
    if value.isdigit():
        return int(value)
    for row in _read_db(path):
        if row[0] == value and len(row) > idx:
            return int(row[idx])
    raise ConfigError(f"{what} `{value}`: not found in the container's {os.path.basename(path or 'passwd')}")


def _passwd_gid(uid: int, path: str | None) -> int:
    for row in _read_db(path):
        if len(row) > 3 and row[2] == str(uid):
            return int(row[3])
    return uid if uid != 0 else 0


def _home(uid: int, path: str | None) -> str:
    for row in _read_db(path):
        if len(row) > 5 and row[2] == str(uid):
            return row[5]
    return "/root" if uid == 0 else "/"


def environment(o: RunOptions, user: m.User, hostname: str, passwd: str | None) -> tuple[str, ...]:
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname, "HOME": _home(user.uid, passwd)}
    if o.tty:
        env["TERM"] = os.environ.get("TERM", "xterm")
    for path in o.env_file:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise ConfigError(f"--env-file `{path}`: {e.strerror}") from None
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            _set_env(env, line, f"--env-file {path}:{n}")
    for item in o.env:
        _set_env(env, item, "-e")
    return tuple(f"{k}={v}" for k, v in env.items())


def _set_env(env: dict[str, str], item: str, where: str) -> None:
    key, eq, value = item.partition("=")
    if not key or "\0" in item:
        raise ConfigError(f"{where} `{item}`: expected KEY=VALUE")
    if not eq:
        if key in os.environ:  # -e KEY passes the caller's value, as Docker does
            env[key] = os.environ[key]
        return
    env[key] = value


def cgroup_parent_default() -> str:
    """nsbox's own cgroup parent: /nsbox, or $NSBOX_CGROUP_PARENT (absolute)."""
    value = os.environ.get("NSBOX_CGROUP_PARENT") or "/nsbox"
    if not value.startswith("/") or ".." in value.split("/"):
        raise ConfigError(f"NSBOX_CGROUP_PARENT `{value}`: must be an absolute cgroup path without `..`")
    return value.rstrip("/") or "/nsbox"


def limits(o: RunOptions, host: Host, cid: str, parent: str) -> tuple[dict | None, str | None]:
    """(linux.resources, linux.cgroupsPath) from --memory, --cpus, ... (nsbox.spec.resources).

    Without a limit flag this imports nothing: root gets ``<parent>/<id>``, a
    rootless caller no cgroup (as before)."""
    asked = any(getattr(o, f) not in (None, (), False, "") for f in RESOURCE_FIELDS)
    if not asked and o.cgroup_parent in (None, ""):
        return None, (None if host.rootless else f"{parent}/{cid}")
    from . import resources as r

    res = r.from_options(o) if asked else None
    if not host.rootless:
        return res, f"{r.cgroup_parent(o.cgroup_parent, parent)}/{cid}"
    base, why = r.rootless_parent(o, host)
    if base is None and o.cgroup_parent not in (None, ""):
        raise ConfigError(f"--cgroup-parent `{o.cgroup_parent}`: {why}")
    return res, (f"{base}/{cid}" if base else None)


def build(o: RunOptions, *, cid: str, rootfs: RootfsInput, host: Host | None = None,
          cgroup_parent: str | None = None, state_dir: str | None = None) -> m.Spec:
    """``state_dir``: the container's directory, where generated files (/etc/hosts...) live."""
    host = host or Host()
    cgroup_parent = cgroup_parent or cgroup_parent_default()
    if not o.command:
        raise ConfigError("no command given: nsbox run [OPTIONS] [--] CMD [ARGS...]")
    ns = namespaces(o, host)
    new_user = ns["user"] is not None and ns["user"].path is None
    uids, gids = id_maps(o, host) if new_user else ((), ())
    hostname = o.hostname if o.hostname is not None else cid[:12]
    if ns["uts"] is None and (o.hostname or o.domainname):
        raise ConfigError("--hostname/--domainname: needs a new UTS namespace (drop --uts host)")
    passwd = rootfs.passwd
    user = parse_user(o.user, passwd)
    if new_user:
        from ..runtime import userns

        if not userns.maps_id(userns.ranges(uids), user.uid):
            raise ConfigError(f"-u {o.user}: uid {user.uid} is not mapped in the container's user namespace "
                              f"(mapped: {', '.join(f'{x.container_id}-{x.container_id + x.size - 1}' for x in uids)}; "
                              "use --userns auto or --uidmap)")
        if not userns.maps_id(userns.ranges(gids), user.gid):
            raise ConfigError(f"-u {o.user}: gid {user.gid} is not mapped in the container's user namespace")

    mounts: list[m.Mount] = []
    masked = list(MASKED)
    readonly = list(READONLY)
    annotations: dict[str, str] = {}
    if ns["mount"] is not None and ns["mount"].path is None:
        mounts = standard_mounts(ns, host)
        if rootfs.host:
            mounts = mounts[:1] + host_root_mounts(host, rootfs) + mounts[1:]
            masked += host_secrets(host)
            readonly.append("/etc")
        mounts += [parse_tmpfs(t) for t in o.tmpfs]
        mounts += [parse_volume(v) for v in o.volume]
        if rootfs.lowers:
            annotations[m.ANN_OVERLAY_LOWER] = m.overlay_join(rootfs.lowers)  # overlayfs syntax, escaped
            annotations[m.ANN_OVERLAY_UPPER] = rootfs.upper
            annotations[m.ANN_OVERLAY_WORK] = rootfs.work
    from ..net.spec import apply as apply_network

    apply_network(o, ns, host.rootless, state_dir, mounts, annotations,  # (/etc files before -v/--tmpfs)
                  host.lexists if rootfs.host else None)
    if o.init:
        annotations[m.ANN_INIT] = "true"
    if o.name:
        annotations[m.ANN_NAME] = o.name
    if o.propagation and o.propagation not in ("private", "slave", "shared", "unbindable",
                                               "rprivate", "rslave", "rshared", "runbindable"):
        raise ConfigError(f"--propagation `{o.propagation}`: expected private, slave, shared or unbindable")
    prop = o.propagation
    if prop and not prop.startswith("r"):
        prop = "r" + prop  # the whole tree, as mount --make-rX does
    process = m.Process(
        terminal=o.tty, user=user, args=tuple(o.command),
        env=environment(o, user, hostname, passwd), cwd=o.workdir or "/",
    )
    if o.workdir is not None and not o.workdir.startswith("/"):
        raise ConfigError(f"-w `{o.workdir}`: the working directory must be an absolute path")
    resources, cgroups_path = limits(o, host, cid, cgroup_parent)
    if o.strict_limits:
        annotations[m.ANN_STRICT_LIMITS] = "true"
    # Device nodes: Docker's policy (deny all but the standard character devices)
    # wherever there is a cgroup to enforce it; a rootless container cannot mknod.
    if not host.rootless:
        resources = {"devices": default_device_rules(), **(resources or {})}
    linux = m.Linux(
        resources=resources,
        namespaces=tuple(v for k, v in ns.items() if v is not None),
        uid_mappings=uids, gid_mappings=gids,
        time_offsets=time_offsets(o, ns["time"] is not None and ns["time"].path is None),
        cgroups_path=cgroups_path,
        rootfs_propagation=prop,
        masked_paths=tuple(masked) if ns["mount"] is not None else (),
        readonly_paths=tuple(readonly) if ns["mount"] is not None else (),
    )
    from .privileges import apply as apply_privileges

    process, linux, mounts = apply_privileges(o, host, process, linux, mounts, annotations, passwd=passwd,
                                              new_user=new_user)
    return m.Spec(process=process, root=m.Root(path=rootfs.root, readonly=o.read_only),
                  hostname=hostname if ns["uts"] is not None else None,
                  domainname=o.domainname if ns["uts"] is not None else None,
                  mounts=tuple(mounts), annotations=annotations, linux=linux)
