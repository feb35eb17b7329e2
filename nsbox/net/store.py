"""Network definitions: ``nsbox network create/ls/rm/inspect``, and the one lock.

Definitions are machine-wide, like Podman's /etc/containers/networks: a file per
network in /var/lib/nsbox/networks (``NSBOX_NETWORK_DIR`` overrides), whatever
NSBOX_ROOT a container's state lives in, so two state roots never hand out the
same address on one bridge.  ``lock`` (flock on ``<dir>/lock``) serialises every
change to definitions, leases, bridges and our nftables table: critical sections
are a few milliseconds, and one lock cannot deadlock with itself.
"""

from __future__ import annotations

import fcntl
import os
import time

from .. import jsonio
from ..errors import NsboxError
from . import ipv4
from .mode import DEFAULT_BRIDGE, DEFAULT_NETWORK, DEFAULT_SUBNET, RESERVED, valid_name

NETWORK_DIR = "/var/lib/nsbox/networks"
AUTO_POOL = ("10.91.0.0", 16)   # `network create` without --subnet: the first free /24 in it
_HELD: dict[str, list[int]] = {}   # lock file path -> [fd, depth]
MAX_PREFIX = 30                 # a /30 has two usable addresses: the gateway and one container


class NetworkError(NsboxError):
    """A network operation failed; the message names the network, address or port."""


def network_dir() -> str:
    from .. import defaults

    return defaults.network_dir or NETWORK_DIR


class Network:
    """A bridge network: subnet, gateway (the bridge's address), bridge name."""

    __slots__ = ("name", "subnet", "gateway", "bridge", "created", "builtin")

    def __init__(self, name: str, subnet: str, gateway: str, bridge: str, created: str = "",
                 builtin: bool = False) -> None:
        self.name, self.subnet, self.gateway, self.bridge = name, subnet, gateway, bridge
        self.created, self.builtin = created, builtin

    @property
    def net(self) -> tuple[int, int]:
        return ipv4.parse_cidr(self.subnet)

    @property
    def prefix(self) -> int:
        return self.net[1]

    def to_json(self) -> dict:
        return {"name": self.name, "driver": "bridge", "subnet": self.subnet, "gateway": self.gateway,
                "bridge": self.bridge, "created": self.created}

    @classmethod
    def from_json(cls, d: dict) -> Network:
        return cls(d["name"], d["subnet"], d["gateway"], d["bridge"], d.get("created", ""))


def builtin() -> Network:
    net, prefix = ipv4.parse_cidr(DEFAULT_SUBNET)
    return Network(DEFAULT_NETWORK, DEFAULT_SUBNET, ipv4.fmt(net + 1), DEFAULT_BRIDGE, builtin=True)


class Store:
    def __init__(self, path: str | None = None) -> None:
        self.path = path or network_dir()

    # -- locking -------------------------------------------------------------
    # flock belongs to an open file description: a second open() of the lock file
    # in this process would wait for ourselves.  The lock is therefore reentrant
    # per process (releasers called while set-up holds it).
    def __enter__(self) -> Store:
        held = _HELD.get(self.path)
        if held is None:
            self.ensure()
            fd = os.open(f"{self.path}/lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = _HELD[self.path] = [fd, 0]
        held[1] += 1
        return self

    def __exit__(self, *exc: object) -> None:
        held = _HELD[self.path]
        held[1] -= 1
        if held[1] == 0:
            del _HELD[self.path]
            os.close(held[0])  # closing drops the flock

    def ensure(self) -> None:
        try:
            os.makedirs(self.path, 0o755, exist_ok=True)
        except OSError as e:
            raise NetworkError(f"network store `{self.path}`: {e.strerror}") from None

    # -- definitions ---------------------------------------------------------
    def file(self, name: str) -> str:
        return f"{self.path}/{name}.json"

    def get(self, name: str) -> Network:
        if name == DEFAULT_NETWORK:
            return builtin()
        if not valid_name(name):
            raise NetworkError(f"network `{name}`: not a valid network name")
        try:
            return Network.from_json(jsonio.load_file(self.file(name)))
        except FileNotFoundError:
            raise NetworkError(f"network `{name}`: no such network (create it with "
                               f"`nsbox network create {name}`)") from None
        except (OSError, ValueError, KeyError) as e:
            raise NetworkError(f"network `{name}`: unreadable definition `{self.file(name)}`: {e}") from None

    def all(self) -> list[Network]:
        out = [builtin()]
        try:
            names = sorted(os.listdir(self.path))
        except OSError:
            return out
        for n in names:
            if n.endswith(".json"):
                try:
                    out.append(self.get(n[:-5]))
                except NetworkError:
                    continue
        return out

    def create(self, name: str, subnet: str | None = None, gateway: str | None = None,
               routes: list[tuple[str, str]] = ()) -> Network:
        """Define a network (caller holds the lock).  ``routes``: (cidr, device) of
        the host, which a new subnet must not overlap."""
        op = f"network create `{name}`"
        if not valid_name(name):
            raise NetworkError(f"{op}: a name is 1-64 of [A-Za-z0-9_.-], starting with a letter or digit")
        if name in RESERVED:
            raise NetworkError(f"{op}: `{name}` is reserved (a --network mode)")
        if os.path.exists(self.file(name)):
            raise NetworkError(f"{op}: a network with this name already exists")
        existing = self.all()
        if subnet is None:
            net, prefix = self._free_subnet(existing, routes, op)
        else:
            net, prefix = ipv4.parse_cidr(subnet, f"{op}: subnet")
            if prefix > MAX_PREFIX or prefix < 8:
                raise NetworkError(f"{op}: subnet `{subnet}` must be a /8 to /{MAX_PREFIX}")
            self._check_overlap((net, prefix), existing, routes, op)
        first, last = ipv4.hosts(net, prefix)
        if gateway is None:
            gw = first
        else:
            gw = ipv4.parse(gateway, f"{op}: gateway")
            if not first <= gw <= last:
                raise NetworkError(f"{op}: gateway `{gateway}` is not a host address of "
                                   f"{ipv4.cidr(net, prefix)}")
        n = Network(name, ipv4.cidr(net, prefix), ipv4.fmt(gw), self._free_bridge(existing),
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self.ensure()
        jsonio.write_atomic(self.file(name), n.to_json(), mode=0o644, indent=2)
        return n

    @staticmethod
    def _check_overlap(net: tuple[int, int], existing: list[Network], routes, op: str) -> None:
        shown = ipv4.cidr(*net)
        for other in existing:
            if ipv4.overlaps(net, other.net):
                raise NetworkError(f"{op}: subnet {shown} overlaps network `{other.name}` ({other.subnet})")
        for cidr, dev in routes:
            if ipv4.overlaps(net, ipv4.parse_cidr(cidr, "route", strict=False)):
                raise NetworkError(f"{op}: subnet {shown} overlaps the host's route to {cidr} (dev {dev})")

    def _free_subnet(self, existing: list[Network], routes, op: str) -> tuple[int, int]:
        base = ipv4.parse(AUTO_POOL[0])
        for i in range(1 << (24 - AUTO_POOL[1])):
            cand = (base + (i << 8), 24)
            try:
                self._check_overlap(cand, existing, routes, op)
            except NetworkError:
                continue
            return cand
        raise NetworkError(f"{op}: no free /24 left in {ipv4.cidr(base, AUTO_POOL[1])} (give --subnet)")

    @staticmethod
    def _free_bridge(existing: list[Network]) -> str:
        used = {n.bridge for n in existing}
        i = 1
        while f"nsbox{i}" in used:
            i += 1
        return f"nsbox{i}"

    def remove(self, name: str) -> None:
        if name == DEFAULT_NETWORK:
            raise NetworkError(f"network rm `{name}`: the default network cannot be removed")
        self.get(name)
        for suffix in (".json", ".leases"):
            try:
                os.unlink(f"{self.path}/{name}{suffix}")
            except FileNotFoundError:
                pass
