"""RunOptions -> linux.sysctl: Podman's default and ``--sysctl KEY=VALUE``.

Without CAP_NET_RAW (not in the default set) ``ping`` needs unprivileged ICMP
sockets (icmp(7), "ping sockets"): a container with a network namespace of its
own gets ``net.ipv4.ping_group_range`` covering its groups, as Podman and
Docker set it.  Both ends of the range must be gids mapped in the container's
user namespace (the kernel refuses the write otherwise): without one, all of
them (0 2147483647); with one, its mapped range.  The engine (runtime/sysctl.py)
checks and writes whatever the spec holds, whichever front end made it.
"""

from __future__ import annotations

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..spec import model as m
    from .builder import Host
    from .options import RunOptions

PING_GROUP_RANGE = "net.ipv4.ping_group_range"
ALL_GIDS = "0 2147483647"  # the kernel's largest accepted gid (Docker's, Podman's rootful value)
SHARE_FLAG = {"network": "--network host", "ipc": "--ipc host", "uts": "--uts host"}


def ping_group_range(user: m.Namespace | None, gids: tuple[m.IDMapping, ...], host: Host) -> str | None:
    """The gid range of the container's user namespace, as "LOW HIGH"."""
    if user is None:
        return ALL_GIDS
    if user.path is None:
        ranges = [(g.container_id, g.container_id + g.size - 1) for g in gids]
    else:
        ranges = _joined_gid_map(user.path, host)
    if not ranges:
        return None  # a user namespace we cannot read the map of: the kernel's default stays
    return f"{min(lo for lo, _ in ranges)} {max(hi for _, hi in ranges)}"


def _joined_gid_map(path: str, host: Host) -> list[tuple[int, int]]:
    """The map of a joined /proc/PID/ns/user (gid_map of that process)."""
    parts = path.split("/")
    if len(parts) != 5 or parts[:2] != ["", "proc"] or parts[3:] != ["ns", "user"]:
        return []
    try:
        with open(f"{host.root}/proc/{parts[2]}/gid_map") as f:
            rows = [line.split() for line in f]
        return [(int(r[0]), int(r[0]) + int(r[2]) - 1) for r in rows if len(r) == 3]
    except (OSError, ValueError):
        return []


def sysctls(o: RunOptions, ns: dict[str, m.Namespace | None], gids: tuple[m.IDMapping, ...],
            host: Host) -> dict[str, str]:
    out: dict[str, str] = {}
    net = ns.get("network")
    if net is not None and net.path is None:
        value = ping_group_range(ns.get("user"), gids, host)
        if value is not None:
            out[PING_GROUP_RANGE] = value
    if o.sysctl:
        out.update(_flags(o, ns))
    return out


def _flags(o: RunOptions, ns: dict[str, m.Namespace | None]) -> dict[str, str]:
    """--sysctl KEY=VALUE: checked here for a clear error before anything starts
    (the engine checks the spec again: runtime/sysctl.py)."""
    from ..runtime.sysctl import NS_NAME, namespace_of, proc_path

    out = {}
    for item in o.sysctl:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError(f"--sysctl `{item}`: expected KEY=VALUE, e.g. net.ipv4.ip_forward=1")
        proc_path(key, "--sysctl")
        kind = namespace_of(key, "--sysctl")
        if ns.get(kind) is None:
            raise ConfigError(f"--sysctl `{item}`: the container shares the host's {NS_NAME[kind]} namespace "
                              f"(drop {SHARE_FLAG[kind]} or --share)")
        out[key] = value
    return out
