"""``--network MODE``: what a container's network namespace gets.

=================  ===========================================================
``none``           a new namespace with loopback only (up)
``host``           the caller's namespace
``ns:PATH``        join a namespace by path (``/run/netns/NAME``, ``/proc/PID/ns/net``)
``container:NAME`` join another container's (spec/builder.py)
``bridge``         the default bridge network ``nsbox`` (bridge nsbox0, root)
``NAME``           a network made with ``nsbox network create NAME`` (root)
``veth:ADDR/LEN``  the seed's recipe: one veth pair, ADDR on the host end, the
                   container end (eth0) gets ``--ip`` or the next address
``pasta[:ARGS]``   user-mode networking with pasta (rootless; Podman 5's default)
``slirp4netns[:OPTS]`` user-mode networking with slirp4netns (rootless)
=================  ===========================================================

Default (:func:`default`): Docker gives every container a bridge network; a
bridge costs nsbox ~0.25 s of start-up (pyroute2 alone imports in ~0.2 s), so a
foreground ``nsbox run`` keeps loopback only unless it publishes a port (``-p``),
while ``run -d`` (a service) gets the bridge as root and pasta rootless (when
pasta and /dev/net/tun are usable; otherwise slirp4netns, otherwise loopback).

Imported on the start-up path: string handling only.
"""

from __future__ import annotations

import os

from ..errors import ConfigError

DEFAULT_NETWORK = "nsbox"
DEFAULT_BRIDGE = "nsbox0"
DEFAULT_SUBNET = "10.90.0.0/16"
# Words that are modes, not network names (Docker/Podman reserve the same).
RESERVED = ("none", "host", "bridge", "default", "private", "new", "lo", "loopback", "slirp4netns",
            "pasta", "veth", "container", "ns", "nsbox")
# Modes for which the parent sets something up after init's namespaces exist.
SETUP_KINDS = ("bridge", "veth", "slirp4netns", "pasta")
SLIRP_OPTIONS = ("allow_host_loopback", "mtu", "cidr", "enable_ipv6", "port_handler", "outbound_addr")
PASTA_OPTIONS = ("allow_host_loopback",)
TUN = "/dev/net/tun"


class NetMode:
    """A parsed --network value.  ``arg``: network name, veth address, or path."""

    __slots__ = ("kind", "arg", "options")

    def __init__(self, kind: str, arg: str = "", options: tuple[str, ...] = ()) -> None:
        self.kind, self.arg, self.options = kind, arg, options

    def __repr__(self) -> str:
        return f"NetMode({self.encode()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NetMode) and self.encode() == other.encode()

    @property
    def needs_setup(self) -> bool:
        return self.kind in SETUP_KINDS

    @property
    def private(self) -> bool:
        """A namespace of the container's own (files in /etc are generated for it)."""
        return self.kind in ("none",) + SETUP_KINDS

    def option(self, key: str, default: str = "") -> str:
        for o in self.options:
            k, _, v = o.partition("=")
            if k == key:
                return v
        return default

    def encode(self) -> str:
        """The annotation value (run.nsbox.network)."""
        if self.kind in ("none", "host"):
            return self.kind
        tail = ",".join(self.options)
        if self.kind in ("slirp4netns", "pasta"):
            return f"{self.kind}:{tail}" if tail else self.kind
        return f"{self.kind}:{self.arg}"


def valid_name(name: str) -> bool:
    return bool(name) and len(name) <= 64 and name[0].isalnum() and name.isascii() and \
        all(c.isalnum() or c in "_.-" for c in name)


def parse(value: str, flag: str = "--network") -> NetMode:
    v = value.strip()
    kind, colon, rest = v.partition(":")
    if v in ("none", "lo", "loopback", "private", "new"):
        return NetMode("none")
    if v == "host":
        return NetMode("host")
    if v.startswith("/"):
        return NetMode("ns", v)
    if kind == "ns" and colon:
        if not rest:
            raise ConfigError(f"{flag} `{value}`: a namespace path is needed (ns:/run/netns/NAME)")
        return NetMode("ns", rest)
    if kind == "container" and colon:
        if not rest:
            raise ConfigError(f"{flag} `{value}`: a container name is needed (container:NAME)")
        return NetMode("container", rest)
    if v in ("bridge", "default", DEFAULT_NETWORK):
        return NetMode("bridge", DEFAULT_NETWORK)
    if kind == "bridge" and colon:
        return NetMode("bridge", _name(rest, value, flag))
    if kind == "veth":
        return _veth(rest, value, flag)
    if kind == "slirp4netns":
        return NetMode("slirp4netns", options=_options(rest, SLIRP_OPTIONS, value, flag))
    if kind == "pasta":
        return NetMode("pasta", options=_pasta_args(rest))
    return NetMode("bridge", _name(v, value, flag))


def _name(name: str, value: str, flag: str) -> str:
    if not valid_name(name):
        raise ConfigError(f"{flag} `{value}`: expected none, host, bridge, NAME (a network from nsbox "
                          "network create), ns:PATH, container:NAME, veth:ADDR/LEN, pasta or slirp4netns")
    return name


def _veth(rest: str, value: str, flag: str) -> NetMode:
    if not rest:
        raise ConfigError(f"{flag} `{value}`: give the host end's address, e.g. veth:172.12.0.11/24")
    from . import ipv4

    addr, _, _ = rest.partition("/")
    ipv4.parse_cidr(rest, f"{flag} {value}: address", strict=False)
    prefix = int(rest.partition("/")[2])
    if prefix > 30:
        raise ConfigError(f"{flag} `{value}`: a /{prefix} has no room for the container's address")
    ipv4.parse(addr, f"{flag} {value}: address")
    return NetMode("veth", rest)


def _options(text: str, allowed: tuple[str, ...], value: str, flag: str) -> tuple[str, ...]:
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, eq, val = item.partition("=")
        if key not in allowed or not eq:
            raise ConfigError(f"{flag} `{value}`: unknown option `{item}` (known: "
                              f"{', '.join(k + '=...' for k in allowed)})")
        out.append(f"{key}={val}")
    return tuple(out)


def _pasta_args(text: str) -> tuple[str, ...]:
    # Podman's syntax: pasta:ARG,ARG,... passed to pasta as they are, plus our own
    # allow_host_loopback=true.
    return tuple(a for a in (x.strip() for x in text.split(",")) if a)


def _on_path(name: str) -> bool:
    for d in os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(":") + ["/usr/sbin", "/usr/bin"]:
        if d and os.access(f"{d}/{name}", os.X_OK):
            return True
    return False


def tun_usable() -> bool:
    return os.access(TUN, os.R_OK | os.W_OK)


def default(*, rootless: bool, detach: bool, publish: bool) -> NetMode:
    """The mode when --network is not given (see the module docstring)."""
    if not (detach or publish):
        return NetMode("none")
    if not rootless:
        return NetMode("bridge", DEFAULT_NETWORK)
    if tun_usable():
        for helper in ("pasta", "slirp4netns"):
            if _on_path(helper):
                return NetMode(helper)
    if publish:
        return NetMode("pasta")  # explicit -p: fail with pasta's message rather than drop the ports
    return NetMode("none")


def check(mode: NetMode, *, rootless: bool, publish: bool, ip: str | None, shown: str = "") -> None:
    """What a mode cannot do, said before anything is created (``shown``: the value given)."""
    shown = shown or mode.encode()
    if rootless and mode.kind in ("bridge", "veth"):
        what = "bridge networks" if mode.kind == "bridge" else "veth pairs"
        raise ConfigError(f"--network `{shown}`: {what} need root "
                          "(rootless containers use --network pasta or --network slirp4netns)")
    if publish and mode.kind not in ("bridge", "slirp4netns", "pasta"):
        raise ConfigError(f"-p: publishing a port needs a bridge, pasta or slirp4netns network "
                          f"(not --network {shown})")
    if ip and mode.kind not in ("bridge", "veth"):
        raise ConfigError(f"--ip `{ip}`: an address can only be chosen on a bridge network or veth "
                          f"(not --network {shown})")


def decode(text: str) -> NetMode:
    kind, _, rest = text.partition(":")
    if kind in ("slirp4netns", "pasta"):
        return NetMode(kind, options=tuple(x for x in rest.split(",") if x))
    return NetMode(kind, rest)
