"""RunOptions -> Spec: the one place ``nsbox run`` flags become an OCI config.

The Python API fills the same RunOptions, so both get the same container.  Host
facts (who is calling, /etc/subuid, which system directories exist) come from a
:class:`Host`, which unit tests replace.
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..spec import model as m
from .mounts import (  # noqa: F401 - HOST_SYSTEM_DIRS, MASKED, READONLY: used through this module too
    HOST_SYSTEM_DIRS,
    MASKED,
    READONLY,
    host_root_mounts,
    host_secrets,
    parse_tmpfs,
    parse_volume,
    standard_mounts,
)
from .options import RESOURCE_FIELDS, RunOptions
from .sysctl import sysctls
from .user import environment, parse_user


def default_device_rules() -> list[dict]:
    from ..cgroups.devices import default_rules

    return default_rules()


KIND_ALIASES = {"net": "network", "network": "network", "mnt": "mount", "mount": "mount",
                "pid": "pid", "ipc": "ipc", "uts": "uts", "cgroup": "cgroup", "time": "time",
                "user": "user"}
ALL_KINDS = ("user", "mount", "pid", "network", "ipc", "uts", "cgroup", "time")
PROC_LINK = {"user": "user", "mount": "mnt", "pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts",
             "cgroup": "cgroup", "time": "time"}


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


def cgroup_parent_default() -> str:
    """nsbox's own cgroup parent: /nsbox, or what the caller configured (nsbox.configure)."""
    from .. import defaults

    return defaults.cgroup_parent


def limits(o: RunOptions, host: Host, cid: str, parent: str) -> tuple[dict | None, str | None]:
    """(linux.resources, linux.cgroupsPath) from --memory, --cpus, ... (nsbox.specgen.resources).

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
    for flag, value in (("--hostname", o.hostname), ("--domainname", o.domainname)):
        # sethostname(2)/setdomainname(2): at most HOST_NAME_MAX (64) bytes, checked before anything starts
        if value is not None and (len(value.encode()) > 64 or not value or "\0" in value):
            raise ConfigError(f"{flag} `{value}`: must be 1 to 64 bytes (HOST_NAME_MAX)")
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
        # supplementary groups from /etc/group: only mapped ones, and none where setgroups(2)
        # is denied (an unprivileged single-gid map, user_namespaces(7))
        single = host.rootless and len(gids) == 1 and gids[0].size == 1
        user = user.replace(additional_gids=() if single else tuple(
            g for g in user.additional_gids if userns.maps_id(userns.ranges(gids), g)))

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
        sysctl=sysctls(o, ns, gids, host),
    )
    from .privileges import apply as apply_privileges

    process, linux, mounts = apply_privileges(o, host, process, linux, mounts, annotations, passwd=passwd,
                                              new_user=new_user)
    return m.Spec(process=process, root=m.Root(path=rootfs.root, readonly=o.read_only),
                  hostname=hostname if ns["uts"] is not None else None,
                  domainname=o.domainname if ns["uts"] is not None else None,
                  mounts=tuple(mounts), annotations=annotations, linux=linux)
