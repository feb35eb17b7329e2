"""RunOptions -> the privilege part of a Spec: capabilities, no_new_privs,
seccomp, masked/read-only paths, rlimits, OOM score, groups, Landlock.

Defaults are Podman's capabilities (Docker's minus NET_RAW, MKNOD, AUDIT_WRITE) and
Docker's seccomp profile and paths (moby profiles/seccomp/default.json,
oci/defaults.go); ``--privileged`` lifts them as Docker does.  No system calls:
host facts come from the builder's Host (tests point ``host.root`` at a fake tree).
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..spec import model as m

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .builder import Host
    from .options import RunOptions

# Podman's default set since 4.0 (containers/common pkg/config DefaultCapabilities):
# moby's (oci/caps/defaults.go) without NET_RAW (raw and packet sockets: spoofed
# packets, ARP on the container's network), MKNOD and AUDIT_WRITE.  `ping` keeps
# working through unprivileged ICMP sockets (net.ipv4.ping_group_range, set by
# specgen/sysctl.py); --cap-add gives any of them back.  Effective mask 0x800405fb.
DEFAULT_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
                "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SETFCAP")
ULIMITS = {"core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
           "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
           "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS",
           "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING",
           "stack": "RLIMIT_STACK", "as": "RLIMIT_AS"}
RLIM_INFINITY = (1 << 64) - 1  # the OCI config's "unlimited" (uint64 max)
ANN_LANDLOCK_RO = "run.nsbox.landlock.ro"   # ':'-separated container paths, read/execute only
ANN_LANDLOCK_RW = "run.nsbox.landlock.rw"   # ':'-separated container paths, full access
# runc libcontainer/devices HostDevices: these are not copied into a privileged container.
_SKIP_DEV = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev", "console", "ptmx", "core"}
SECURITY_OPTS_HELP = ("no-new-privileges[=true|false], seccomp=unconfined|PROFILE.json, "
                      "systempaths=unconfined, mask=PATH[:PATH...], unmask=ALL|PATH[:PATH...]")


class SecurityOpts:
    """``--security-opt`` values, parsed."""

    def __init__(self) -> None:
        self.no_new_privileges = True
        self.seccomp: str | None = None      # None: the default profile; "unconfined"; or a file
        self.systempaths_unconfined = False
        self.mask: list[str] = []
        self.unmask: list[str] = []


def _bool(value: str, item: str) -> bool:
    v = value.strip().lower()
    if v in ("", "true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise ConfigError(f"--security-opt `{item}`: expected true or false")


def _paths(value: str, item: str) -> list[str]:
    out = [p for p in value.split(":") if p]
    for p in out:
        if p != "ALL" and not p.startswith("/"):
            raise ConfigError(f"--security-opt `{item}`: `{p}` is not an absolute path")
    return out


def parse_security_opts(items: tuple[str, ...]) -> SecurityOpts:
    s = SecurityOpts()
    for item in items:
        key, sep, value = item.partition("=")
        if not sep and ":" in item:  # Docker's legacy form: no-new-privileges:true, seccomp:FILE
            key, sep, value = item.partition(":")
        key = key.strip()
        if key == "no-new-privileges":
            s.no_new_privileges = _bool(value, item)
        elif key == "seccomp" and value:
            s.seccomp = value
        elif key == "systempaths" and value == "unconfined":
            s.systempaths_unconfined = True
        elif key == "mask" and value:
            s.mask += _paths(value, item)
        elif key == "unmask" and value:
            s.unmask += _paths(value, item)
        elif (key == "apparmor" and value == "unconfined") or (key == "label" and value == "disable"):
            continue  # nsbox applies no AppArmor profile or SELinux label: already so
        elif key in ("apparmor", "label"):
            raise ConfigError(f"--security-opt `{item}`: {key} is not supported by nsbox "
                              f"(only {key}={'unconfined' if key == 'apparmor' else 'disable'})")
        else:
            raise ConfigError(f"--security-opt `{item}`: unknown option (one of: {SECURITY_OPTS_HELP})")
    return s


def last_cap(host: Host) -> int:
    """The newest capability of the host's kernel (all of ours when unknown)."""
    from ..kernel.caps import LAST_KNOWN

    try:
        with open(f"{host.root}/proc/sys/kernel/cap_last_cap") as f:
            return min(int(f.read()), LAST_KNOWN)
    except (OSError, ValueError):
        return LAST_KNOWN


def _cap_list(values: tuple[str, ...], flag: str) -> list[str]:
    from ..kernel.caps import canonical

    out = []
    for item in values:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            if part.upper() == "ALL":
                out.append("ALL")
                continue
            name = canonical(part)
            if name is None:
                raise ConfigError(f"{flag} `{part}`: unknown capability (names as in capabilities(7), "
                                  "e.g. NET_ADMIN or CAP_NET_ADMIN, or ALL)")
            out.append(name)
    return out


def _status_mask(host: Host, field: str) -> int | None:
    try:
        with open(f"{host.root}/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return None


def available_caps(host: Host, new_user: bool) -> list[str]:
    """Every capability the container can be given: all the kernel has in a new
    user namespace (its root starts with a full bounding set, user_namespaces(7)),
    else only those in nsbox's own bounding set (no process gains one it lacks)."""
    from ..kernel.caps import NAMES

    every = list(NAMES[: last_cap(host) + 1])
    bounding = None if new_user else _status_mask(host, "CapBnd")
    if bounding is None:
        return every
    return [c for i, c in enumerate(every) if bounding >> i & 1]


def capability_list(o: RunOptions, host: Host, new_user: bool = False) -> tuple[list[str], list[str]]:
    """(the container's capabilities, those --cap-add asked for), after moby's
    TweakCapabilities: ALL in --cap-add (or --privileged) starts from every
    capability, ALL in --cap-drop from none, else from the default set."""
    from ..kernel.caps import NUMBERS

    every = available_caps(host, new_user)
    adds = _cap_list(o.cap_add, "--cap-add")
    drops = _cap_list(o.cap_drop, "--cap-drop")
    for c in adds:
        if c != "ALL" and c not in every:
            raise ConfigError(f"--cap-add `{c}`: nsbox cannot grant it: "
                              + ("the running kernel does not have this capability"
                                 if NUMBERS[c] > last_cap(host) else
                                 "nsbox itself does not have it (not in its bounding set)"))
    if "ALL" in adds or (o.privileged and "ALL" not in drops):
        base = [c for c in every if c not in drops]
    elif "ALL" in drops:
        base = []
    else:
        base = [c for c in DEFAULT_CAPS if c not in drops and c in every]
    explicit = [c for c in every if c not in drops] if "ALL" in adds else [c for c in adds if c != "ALL"]
    caps = sorted(set(base) | set(explicit), key=NUMBERS.__getitem__)
    return caps, sorted(set(explicit), key=NUMBERS.__getitem__)


def capabilities(o: RunOptions, host: Host, uid: int, new_user: bool = False) -> m.Capabilities:
    """root gets the list in bounding, permitted and effective (moby SetCapabilities);
    another user gets it as bounding only, plus what --cap-add names in every set,
    ambient included, so that it survives execve (Podman's rule)."""
    caps, added = capability_list(o, host, new_user)
    if uid == 0:
        t = tuple(caps)
        return m.Capabilities(bounding=t, effective=t, permitted=t)
    a = tuple(added)
    return m.Capabilities(bounding=tuple(caps), effective=a, permitted=a, inheritable=a, ambient=a)


def seccomp(o: RunOptions, sec: SecurityOpts, bounding: tuple[str, ...]) -> dict | None:
    """The OCI seccomp object: Docker's default profile for the container's
    capabilities, a user's profile file, or None (unconfined, or --privileged)."""
    from ..seccomp import profile

    if sec.seccomp == "unconfined":
        return None
    if sec.seccomp is not None:
        return profile.load_file(sec.seccomp, bounding)
    if o.privileged:
        return None
    from ..seccomp.default import PROFILE

    return profile.to_oci(PROFILE, bounding, "default seccomp profile")


def _limit(text: str, item: str) -> int:
    t = text.strip().lower()
    if t in ("-1", "unlimited", "infinity"):
        return RLIM_INFINITY
    if not t.isdigit():
        raise ConfigError(f"--ulimit `{item}`: `{text}` is not a number (or unlimited)")
    return int(t)


def rlimits(o: RunOptions, may_raise: bool = True) -> tuple[m.Rlimit, ...]:
    """--ulimit NAME=SOFT[:HARD] (Docker's syntax; HARD defaults to SOFT)."""
    out: dict[str, m.Rlimit] = {}
    for item in o.ulimit:
        name, eq, value = item.partition("=")
        kind = ULIMITS.get(name.strip().lower())
        if kind is None or not eq or not value:
            if kind is None and eq:
                raise ConfigError(f"--ulimit `{item}`: unknown limit `{name}` (one of {', '.join(ULIMITS)})")
            raise ConfigError(f"--ulimit `{item}`: expected NAME=SOFT[:HARD], e.g. nofile=1024:2048")
        soft_s, _, hard_s = value.partition(":")
        soft = _limit(soft_s, item)
        hard = _limit(hard_s, item) if hard_s else soft
        if soft > hard:
            raise ConfigError(f"--ulimit `{item}`: the soft limit {soft_s} is above the hard limit {hard_s}")
        if not may_raise:
            _check_hard(kind, hard, item)
        out[kind] = m.Rlimit(type=kind, soft=soft, hard=hard)
    return tuple(out.values())


def _check_hard(kind: str, hard: int, item: str) -> None:
    """Refuse, before anything is created, a hard limit above ours that we cannot
    raise: setrlimit(2) needs CAP_SYS_RESOURCE in the initial user namespace."""
    import resource

    res = getattr(resource, kind, None)
    if res is None:
        return
    cur = resource.getrlimit(res)[1]
    cur = RLIM_INFINITY if cur == resource.RLIM_INFINITY else cur
    if hard > cur:
        raise ConfigError(f"--ulimit `{item}`: the hard limit is above nsbox's own ({cur}) and raising "
                          f"it needs CAP_SYS_RESOURCE, which nsbox does not have here "
                          f"(use a hard limit of at most {cur})")


def oom_score_adj(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        n = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ConfigError(f"--oom-score-adj `{value}`: not an integer") from None
    if not -1000 <= n <= 1000:
        raise ConfigError(f"--oom-score-adj `{value}`: must be between -1000 and 1000")
    return n


def group_ids(o: RunOptions, passwd: str | None) -> tuple[int, ...]:
    """--group-add GROUP: numbers, or names from the container's /etc/group."""
    group_file = passwd[: -len("passwd")] + "group" if passwd and passwd.endswith("passwd") else None
    out: list[int] = []
    for item in o.group_add:
        for g in item.split(","):
            g = g.strip()
            if not g:
                continue
            gid = int(g) if g.isdigit() else _group(g, group_file)
            if gid not in out:
                out.append(gid)
    return tuple(out)


def _group(name: str, path: str | None) -> int:
    try:
        with open(path or "") as f:
            for line in f:
                row = line.rstrip("\n").split(":")
                if row[0] == name and len(row) > 2 and row[2].isdigit():
                    return int(row[2])
    except OSError:
        pass
    raise ConfigError(f"--group-add `{name}`: no such group in the container's /etc/group")


def landlock_annotations(o: RunOptions) -> dict[str, str]:
    out = {}
    for flag, key, paths in (("--landlock-ro", ANN_LANDLOCK_RO, o.landlock_ro),
                             ("--landlock-rw", ANN_LANDLOCK_RW, o.landlock_rw)):
        for p in paths:
            if not p.startswith("/") or ":" in p:
                raise ConfigError(f"{flag} `{p}`: an absolute container path (without `:`) is needed")
        if paths:
            out[key] = ":".join(paths)
    return out


def host_devices(host: Host, rootless: bool) -> tuple[m.Device, ...]:
    """--privileged: the host's device nodes, as Docker copies them (runc HostDevices).
    Rootless, only those the caller may open are bound (the others would be useless)."""
    out: list[m.Device] = []

    def walk(rel: str) -> None:
        try:
            entries = sorted(os.scandir(host.root + rel), key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            if e.name in _SKIP_DEV:
                continue
            path = f"{rel}/{e.name}"
            try:
                if e.is_dir(follow_symlinks=False):
                    walk(path)
                    continue
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            kind = {0o020000: "c", 0o060000: "b"}.get(st.st_mode & 0o170000)
            if kind is None or (rootless and not os.access(host.root + path, os.R_OK)):
                continue
            out.append(m.Device(type=kind, path=path, major=os.major(st.st_rdev), minor=os.minor(st.st_rdev),
                                file_mode=st.st_mode & 0o7777, uid=0, gid=0))

    walk("/dev")
    return tuple(out)


def _may_raise_limits(host: Host, new_user: bool) -> bool:
    """CAP_SYS_RESOURCE in the initial user namespace (a user namespace never has it there)."""
    if host.rootless or new_user:
        return False
    eff = _status_mask(host, "CapEff")
    return eff is None or bool(eff >> 24 & 1)  # CAP_SYS_RESOURCE = 24; unknown: let setrlimit decide


def _system_paths(sec: SecurityOpts, privileged: bool, linux: m.Linux) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Masked and read-only paths: Docker's defaults unless --privileged,
    systempaths=unconfined or unmask= (Podman) lift them; mask= adds more."""
    from .builder import MASKED, READONLY

    masked, readonly = list(linux.masked_paths), list(linux.readonly_paths)
    if privileged or sec.systempaths_unconfined or "ALL" in sec.unmask:
        masked = [p for p in masked if p not in MASKED]  # host secrets of the embedded root stay hidden
        readonly = [p for p in readonly if p not in READONLY]
    masked = [p for p in masked if p not in sec.unmask]
    readonly = [p for p in readonly if p not in sec.unmask]
    masked += [p for p in sec.mask if p not in masked]
    return tuple(masked), tuple(readonly)


def _privileged_mounts(mounts: list[m.Mount]) -> list[m.Mount]:
    """--privileged: /sys and /sys/fs/cgroup writable, as in Docker."""
    out = []
    for mnt in mounts:
        if mnt.destination in ("/sys", "/sys/fs/cgroup"):
            mnt = mnt.replace(options=tuple(x for x in mnt.options if x not in ("ro", "rro")))
        out.append(mnt)
    return out


def apply(o: RunOptions, host: Host, process: m.Process, linux: m.Linux, mounts: list[m.Mount],
          annotations: dict[str, str], *, passwd: str | None,
          new_user: bool) -> tuple[m.Process, m.Linux, list[m.Mount]]:
    """Fill the privilege fields of the spec the builder made (the builder's last step)."""
    sec = parse_security_opts(o.security_opt)
    caps = capabilities(o, host, process.user.uid, new_user)
    user = process.user
    extra = group_ids(o, passwd)
    if extra:
        if new_user:
            from ..runtime import userns

            for gid in extra:
                if not userns.maps_id(userns.ranges(linux.gid_mappings), gid):
                    raise ConfigError(f"--group-add `{gid}`: gid {gid} is not mapped in the container's "
                                      "user namespace (use --userns auto or --gidmap)")
        user = user.replace(additional_gids=tuple(dict.fromkeys(user.additional_gids + extra)))
    limits = rlimits(o, _may_raise_limits(host, new_user))
    process = process.replace(capabilities=caps, no_new_privileges=sec.no_new_privileges, user=user,
                              rlimits=process.rlimits + limits if limits else process.rlimits,
                              oom_score_adj=oom_score_adj(o.oom_score_adj))
    masked, readonly = _system_paths(sec, o.privileged, linux)
    devices = linux.devices
    resources = linux.resources
    if o.privileged:
        listed = {d.path for d in devices}
        devices += tuple(d for d in host_devices(host, host.rootless) if d.path not in listed)
        mounts = _privileged_mounts(mounts)
        if isinstance(resources, dict) and "devices" in resources:
            resources = dict(resources, devices=[{"allow": True, "access": "rwm"}])  # Docker: `a *:* rwm`
    linux = linux.replace(seccomp=seccomp(o, sec, caps.bounding), masked_paths=masked,
                          readonly_paths=readonly, devices=devices, resources=resources)
    annotations.update(landlock_annotations(o))
    return process, linux, mounts
