"""Links, addresses and routes over netlink, with pyroute2 (imported here only).

pyroute2 takes ~0.2 s to import: only a container that needs more than loopback
gets here.  Every failure becomes a NetworkError naming the operation and the
interface: "create bridge `nsbox0`: Operation not permitted".
"""

from __future__ import annotations

import os
from socket import AF_INET

from ..kernel import ns
from .store import NetworkError

ALIAS_PREFIX = "nsbox network "   # IFLA_IFALIAS of the bridges we create: how we know ours
MAIN_TABLE = 254


def iproute():
    from pyroute2 import IPRoute

    return IPRoute()


class NetlinkFailure(NetworkError):
    def __init__(self, msg: str, code: int = 0) -> None:
        super().__init__(msg)
        self.code = code


def call(what: str, fn, *args, **kw):
    """Run a pyroute2 call; its NetlinkError becomes "<what>: <strerror>"."""
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        return fn(*args, **kw)
    except NetlinkError as e:
        raise NetlinkFailure(f"{what}: {os.strerror(e.code)}", e.code) from None


def index(ipr, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def attr(msg, name: str, default=None):
    v = msg.get_attr(name)
    return default if v is None else v


def netns_id(pid: int | str = "self") -> str:
    """The identity of a network namespace (``net:[4026531840]``)."""
    return os.readlink(f"/proc/{pid}/ns/net")


class InNetns:
    """An IPRoute whose socket lives in another process's network namespace.

    A netlink socket stays in the namespace it was created in: enter it with
    setns(2), open the socket, come back.  (pyroute2's own netns support forks
    a helper process per socket.)"""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.ipr = None

    def __enter__(self):
        home = ns.open_ns("/proc/thread-self/ns/net")
        target = ns.open_ns(f"/proc/{self.pid}/ns/net")
        try:
            ns.setns(target, "network", f"/proc/{self.pid}/ns/net")
            try:
                self.ipr = iproute()
            finally:
                ns.setns(home, "network", "/proc/thread-self/ns/net")
        finally:
            os.close(home)
            os.close(target)
        return self.ipr

    def __exit__(self, *exc: object) -> None:
        if self.ipr is not None:
            self.ipr.close()


def sysctl(dev: str, key: str, value: str | None = None) -> str:
    """Read (or write) net.ipv4.conf.<dev>.<key> of our network namespace."""
    path = f"/proc/sys/net/ipv4/conf/{dev}/{key}"
    try:
        if value is None:
            with open(path) as f:
                return f.read().strip()
        with open(path, "w") as f:
            f.write(value)
        return value
    except OSError as e:
        raise NetworkError(f"sysctl net.ipv4.conf.{dev}.{key}{'' if value is None else '=' + value}: "
                           f"{e.strerror}") from None


def ours(ipr) -> list[str]:
    """Names of the bridges nsbox created in this namespace."""
    out = []
    for link in ipr.get_links():
        if (attr(link, "IFLA_IFALIAS", "") or "").startswith(ALIAS_PREFIX):
            out.append(attr(link, "IFLA_IFNAME"))
    return out


def routes(ipr, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(cidr, device) of the main table's IPv4 routes, except default and ``skip`` devices."""
    names = {attr(link, "IFLA_IFNAME"): link["index"] for link in ipr.get_links()}
    by_index = {v: k for k, v in names.items()}
    out = []
    for r in ipr.get_routes(family=AF_INET, table=MAIN_TABLE):
        dst = attr(r, "RTA_DST")
        dev = by_index.get(attr(r, "RTA_OIF"), "?")
        if dst is None or r["dst_len"] == 0 or dev in skip:
            continue
        out.append((f"{dst}/{r['dst_len']}", dev))
    return out


def default_devices(ipr) -> list[str]:
    by_index = {link["index"]: attr(link, "IFLA_IFNAME") for link in ipr.get_links()}
    out = []
    for r in ipr.get_routes(family=AF_INET, table=MAIN_TABLE):
        if r["dst_len"] == 0 and attr(r, "RTA_OIF") in by_index:
            name = by_index[attr(r, "RTA_OIF")]
            if name not in out:
                out.append(name)
    return out


def addresses(ipr) -> dict[str, str]:
    """IPv4 address -> device, for every address of this namespace."""
    by_index = {link["index"]: attr(link, "IFLA_IFNAME") for link in ipr.get_links()}
    return {attr(a, "IFA_ADDRESS"): by_index.get(a["index"], "?") for a in ipr.get_addr(family=AF_INET)}


def create_bridge(ipr, name: str, network: str, gateway: str, prefix: int) -> int:
    # Frames bridged between two containers skip netfilter (br_netfilter would pass each
    # through the IPv4 hooks and conntrack): nsbox accepts that traffic anyway, and it is
    # the container-to-container fast path.  Per bridge, not the global bridge-nf sysctls.
    call(f"create bridge `{name}`", ipr.link, "add", ifname=name, kind="bridge", br_nf_call_iptables=0,
         br_nf_call_ip6tables=0, br_nf_call_arptables=0)
    i = index(ipr, name)
    if i is None:
        raise NetworkError(f"create bridge `{name}`: it vanished after creation")
    call(f"set alias of bridge `{name}`", ipr.link, "set", index=i, ifalias=ALIAS_PREFIX + network)
    call(f"add address {gateway}/{prefix} to `{name}`", ipr.addr, "add", index=i, address=gateway,
         prefixlen=prefix)
    call(f"set bridge `{name}` up", ipr.link, "set", index=i, state="up")
    return i


def bridge_of(ipr, name: str, network: str) -> int | None:
    """The index of our bridge ``name``; None if absent; an error if the name is someone else's."""
    found = ipr.get_links(ifname=name) if index(ipr, name) is not None else []
    if not found:
        return None
    link = found[0]
    if attr(link, "IFLA_IFALIAS", "") != ALIAS_PREFIX + network:
        raise NetworkError(f"network `{network}`: interface `{name}` exists and is not nsbox's bridge "
                           f"for it (alias {attr(link, 'IFLA_IFALIAS', '')!r})")
    return link["index"]


def delete(ipr, name: str, what: str = "link") -> bool:
    """Delete a link if it exists (idempotent); True if we deleted it."""
    i = index(ipr, name)
    if i is None:
        return False
    try:
        call(f"delete {what} `{name}`", ipr.link, "del", index=i)
    except NetlinkFailure as e:
        if e.code == 19:  # ENODEV: gone meanwhile (its namespace was torn down)
            return False
        raise
    return True


def create_veth(ipr, host_name: str, pid: int, master: int | None = None, mtu: int | None = None) -> int:
    """A veth pair: ``host_name`` here, ``eth0`` created directly in init's namespace."""
    peer: dict = {"ifname": "eth0", "net_ns_pid": pid}
    kw: dict = {}
    if mtu:
        peer["mtu"] = kw["mtu"] = mtu
    call(f"create veth pair `{host_name}` / eth0 in process {pid}'s namespace", ipr.link, "add",
         ifname=host_name, kind="veth", peer=peer, **kw)
    i = index(ipr, host_name)
    if i is None:
        raise NetworkError(f"create veth `{host_name}`: it vanished after creation")
    if master is not None:
        call(f"attach `{host_name}` to its bridge", ipr.link, "set", index=i, master=master)
    call(f"set `{host_name}` up", ipr.link, "set", index=i, state="up")
    return i


def configure_inside(pid: int, address: str, prefix: int, gateway: str | None) -> None:
    """eth0 in the container: its address, up, and the default route via ``gateway``."""
    with InNetns(pid) as ipr:
        i = index(ipr, "eth0")
        if i is None:
            raise NetworkError(f"configure eth0 in process {pid}'s namespace: no such interface")
        call(f"add address {address}/{prefix} to the container's eth0", ipr.addr, "add", index=i,
             address=address, prefixlen=prefix)
        call("set the container's eth0 up", ipr.link, "set", index=i, state="up")
        if gateway:
            call(f"add the container's default route via {gateway}", ipr.route, "add", dst="0.0.0.0/0",
                 gateway=gateway, oif=i)


def add_address(ipr, name: str, address: str, prefix: int) -> None:
    i = index(ipr, name)
    call(f"add address {address}/{prefix} to `{name}`", ipr.addr, "add", index=i, address=address,
         prefixlen=prefix)
    call(f"set `{name}` up", ipr.link, "set", index=i, state="up")
