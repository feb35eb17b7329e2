"""RunOptions -> the network part of the spec (called by spec/builder.py).

Annotations carry what the parent sets up after init's namespaces exist:
run.nsbox.network (mode), .ports, .ip, .dns, .hosts.  Start-up path: light.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..spec import model as m
from . import etcfiles
from .mode import DEFAULT_NETWORK, NetMode, check, default, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..specgen.options import RunOptions

ANN_NETWORK = "run.nsbox.network"
ANN_PORTS = "run.nsbox.network.ports"
ANN_IP = "run.nsbox.network.ip"
ANN_DNS = "run.nsbox.network.dns"
ANN_HOSTS = "run.nsbox.network.hosts"


def resolve(o: RunOptions, netns: m.Namespace | None, rootless: bool) -> NetMode:
    """The container's network mode from --network and the namespace chosen for it."""
    publish = bool(getattr(o, "publish", ()))
    ip = getattr(o, "ip", None)
    if netns is None:
        mode = NetMode("host")
    elif netns.path:
        mode = NetMode("ns", netns.path)
    elif o.network is None:
        mode = default(rootless=rootless, detach=o.detach, publish=publish)
    else:
        mode = parse(o.network)
        if mode.kind in ("host", "ns", "container"):
            mode = NetMode("none")  # the namespace was decided otherwise (--ns/--share)
    check(mode, rootless=rootless, publish=publish, ip=ip, shown=o.network or "")
    if mode.kind == "bridge" and mode.arg != DEFAULT_NETWORK:
        import os

        from .store import network_dir

        if not os.path.exists(f"{network_dir()}/{mode.arg}.json"):
            raise ConfigError(f"--network `{o.network}`: no such network (create it with "
                              f"`nsbox network create {mode.arg}`)")
    return mode


def apply(o: RunOptions, ns: dict[str, m.Namespace | None], rootless: bool, state_dir: str | None,
          mounts: list[m.Mount], annotations: dict[str, str], host_has=None) -> NetMode:
    """Add the network annotations and the /etc file mounts; return the mode.

    ``host_has(path)``: for the embedded default root (the host's /etc, read-only),
    whether a file exists to be covered (nothing can be created there)."""
    mode = resolve(o, ns["network"], rootless)
    annotations[ANN_NETWORK] = mode.encode()
    publish = getattr(o, "publish", ())
    if publish:
        from .ports import encode_all, parse_all

        annotations[ANN_PORTS] = encode_all(parse_all(tuple(publish)))
    ip = getattr(o, "ip", None)
    if ip:
        from .ipv4 import parse as parse_ip

        parse_ip(ip, "--ip")
        annotations[ANN_IP] = ip
    dns = getattr(o, "dns", ())
    if dns:
        from .ipv4 import parse as parse_ip

        for d in dns:
            if ":" not in d:  # an IPv6 resolver is passed through as given
                parse_ip(d, "--dns")
        annotations[ANN_DNS] = ",".join(dns)
    hosts = getattr(o, "add_host", ())
    if hosts:
        annotations[ANN_HOSTS] = ",".join(f"{n}:{a}" for n, a in map(etcfiles.parse_add_host, hosts))
    own_mounts = ns["mount"] is not None and ns["mount"].path is None
    if state_dir and own_mounts and mode.private:
        # before the user's mounts (the last ones): a -v onto /etc must not get our files written into it
        pos = len(mounts) - len(o.tmpfs) - len(o.volume)
        taken = {x.destination.rstrip("/") for x in mounts[pos:]}
        if host_has is not None:
            taken |= {f"/etc/{f}" for f in etcfiles.FILES if not host_has(f"/etc/{f}")}
        mounts[pos:pos] = etcfiles.mounts(state_dir, taken)
    elif (dns or hosts) and not mode.private:
        raise ConfigError("--dns/--add-host: nsbox writes /etc/hosts and /etc/resolv.conf only for a "
                          f"container with its own network (not --network {mode.encode()})")
    return mode


def extra_hosts(spec: m.Spec) -> list[tuple[str, str]]:
    text = spec.annotations.get(ANN_HOSTS, "")
    return [etcfiles.parse_add_host(x) for x in text.split(",") if x]


def dns_servers(spec: m.Spec) -> list[str]:
    return [x for x in spec.annotations.get(ANN_DNS, "").split(",") if x]


def write_files(spec: m.Spec, state_dir: str, owner: tuple[int, int] | None = None) -> None:
    """Create the /etc files the spec bind-mounts from ``state_dir`` (before init starts)."""
    prefix = state_dir + "/"
    if not any(x.type == "bind" and (x.source or "").startswith(prefix) and x.destination.startswith("/etc/")
               for x in spec.mounts):
        return
    kind = spec.annotations.get(ANN_NETWORK, "none").partition(":")[0]
    etcfiles.write_initial(state_dir, spec, kind, dns_servers(spec), extra_hosts(spec), owner)
    lower, upper = spec.annotations.get(m.ANN_OVERLAY_LOWER), spec.annotations.get(m.ANN_OVERLAY_UPPER)
    if lower and upper:
        etcfiles.placeholders(m.overlay_split(lower), upper, owner)
