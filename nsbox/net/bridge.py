"""Bridge networks and the seed's veth pair, as root: set-up in the parent.

Order (each resource held with ``created.hold`` before it is made, so the
garbage collector can free it if this process dies at any point)::

    [store lock] bridge + nft table/elements + uplink forwarding -> lease   [unlock]
    veth pair (eth0 created in init's namespace) -> eth0 address, up, default route
    [store lock] published ports (nft map elements)                         [unlock]
    [store lock] /etc/hosts of every container on the network                [unlock]

Release runs in reverse: ports, veth, lease, then the bridge if no container in
this network namespace holds a lease on it any more (and the nft table once no
nsbox bridge is left).
"""

from __future__ import annotations

import os

from ..trace import mark
from . import etcfiles, firewall, ipam, ipv4, links
from .nft import Nft
from .store import Network, NetworkError, Store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime.create import Created
    from .mode import NetMode
    from .ports import Port


def host_ifname(cid: str) -> str:
    return "veth" + cid[:11]  # IFNAMSIZ: 15 characters


def lease_info(created: Created, netns: str) -> dict:
    spec = created.launch.spec
    hostname = spec.hostname or os.uname().nodename
    names = []
    name = created.container.state.get("name") if created.container.state else None
    for n in (name, hostname, created.container.id[:12]):
        if n and n not in names:
            names.append(n)
    if spec.domainname:
        names.insert(1, f"{hostname}.{spec.domainname}")
    from .spec import extra_hosts

    return {"name": name or "", "hostname": hostname, "names": names, "state": created.container.path,
            "hosts": etcfiles.paths(created.container.path)["hosts"], "extra": extra_hosts(spec),
            "netns": netns}


def attach(created: Created, mode: NetMode, ports: list[Port], want_ip: str | None) -> None:
    from .release import bridge as release_bridge
    from .release import lease as release_lease
    from .release import link as release_link

    store = Store()
    cid = created.container.id
    here = links.netns_id()
    ipr = links.iproute()
    mark("net: pyroute2 ready")
    try:
        with store:
            net = store.get(mode.arg)
            # the store's directory is recorded: whoever releases it (the lean supervisor,
            # gc in another process) uses the same store, whatever its own settings
            rec = {"network": net.name, "bridge": net.bridge, "subnet": net.subnet, "netns": here,
                   "store": store.path}
            created.hold("net-bridge", f"remove bridge `{net.bridge}` once unused",
                         lambda: release_bridge(rec), **rec)
            master = ensure_network(ipr, net)
            mark("net: bridge and nftables ready")
            lrec = {"network": net.name, "id": cid, "netns": here, "store": store.path}
            created.hold("net-lease", f"release the address on network `{net.name}`",
                         lambda: release_lease(lrec), **lrec)
            addr = ipam.allocate(store, net, cid, lease_info(created, here), want_ip)
        krec = {"name": host_ifname(cid), "netns": here}
        created.hold("net-link", f"delete veth `{krec['name']}`", lambda: release_link(krec), **krec)
        links.create_veth(ipr, krec["name"], created.pid, master)
        mark("net: veth created")
        links.configure_inside(created.pid, addr, net.prefix, net.gateway)
        mark("net: eth0 configured")
        if ports:
            publish(created, store, ports, addr, here)
            mark("net: ports published")
        with store:
            refresh_hosts(store, net.name, here)
    finally:
        ipr.close()


def ensure_network(ipr, net: Network) -> int:
    """The network's bridge, nft elements and forwarding (caller holds the store lock)."""
    nft = Nft()
    try:
        firewall.ensure(nft)
        index = links.bridge_of(ipr, net.bridge, net.name)
        if index is None:
            check_free(ipr, net)
            index = links.create_bridge(ipr, net.bridge, net.name, net.gateway, net.prefix)
        # Forwarding for our bridge only (per-interface sysctls, not net.ipv4.ip_forward);
        # route_localnet lets DNAT send the host's 127.0.0.1 to a container (the guard
        # chain drops the reverse direction, CVE-2020-8558).
        links.sysctl(net.bridge, "forwarding", "1")
        links.sysctl(net.bridge, "route_localnet", "1")
        firewall.add(nft, firewall.network_elements(net.bridge, net.subnet),
                     f"network `{net.name}`: add {net.subnet} to nftables")
        enable_uplinks(ipr, nft)
        return index
    finally:
        nft.close()


def check_free(ipr, net: Network) -> None:
    """The subnet must not collide with the host's routes or addresses."""
    mine = net.net
    for cidr, dev in links.routes(ipr, skip=(net.bridge,)):
        if ipv4.overlaps(mine, ipv4.parse_cidr(cidr, "route", strict=False)):
            raise NetworkError(f"network `{net.name}`: subnet {net.subnet} overlaps the host's route to "
                               f"{cidr} (dev {dev}); create a network with another --subnet")


def enable_uplinks(ipr, nft: Nft) -> None:
    """Replies (and published ports) come in through the default route's interface:
    IPv4 forwards a packet only if its *input* interface has forwarding on.  Turn it on
    for that interface alone when it is off, remember it in the table's ``uplinks``
    set, and drop anything else forwarded from it (so nothing but our networks is
    routed that was not before)."""
    if links.sysctl("all", "forwarding") == "1":
        return
    ours = set(links.ours(ipr))
    for dev in links.default_devices(ipr):
        if dev in ours or links.sysctl(dev, "forwarding") == "1":
            continue
        firewall.add(nft, [("uplinks", dev)], f"record uplink `{dev}`")
        links.sysctl(dev, "forwarding", "1")


def restore_uplinks(nft: Nft) -> None:
    for dev in firewall.set_members(nft, "uplinks"):
        try:
            links.sysctl(dev, "forwarding", "0")
        except NetworkError:
            pass  # the interface is gone


def publish(created: Created, store: Store, ports: list[Port], addr: str, here: str) -> None:
    from .release import ports as release_ports

    with store:
        nft = Nft()
        try:
            taken = firewall.published(nft)
            for p in ports:
                for proto, ip, hport, target in taken:
                    if proto == p.proto and hport == p.host_port and (not ip or not p.host_ip or ip == p.host_ip):
                        shown = f"{ip + ':' if ip else ''}{hport}/{proto}"
                        raise NetworkError(f"publish `{p}`: host port {shown} is already published "
                                           f"(to {target}{owner_of(store, target)})")
                check_host_port(p)
            items = firewall.port_elements(ports, addr)
            rec = {"elements": items, "netns": here, "ports": [str(p) for p in ports]}
            created.hold("net-ports", f"unpublish {', '.join(rec['ports'])}", lambda: release_ports(rec), **rec)
            firewall.add(nft, items, f"publish {', '.join(rec['ports'])}")
        finally:
            nft.close()


def owner_of(store: Store, target: str) -> str:
    addr = target.partition(":")[0]
    for net in store.all():
        for a, info in ipam.members(store, net.name):
            if a == addr:
                return f", container {info.get('name') or info.get('id', '')[:12]}"
    return ""


def check_host_port(p: Port) -> None:
    """A host program listening on the port would lose its traffic to our DNAT: refuse."""
    import socket

    kind = socket.SOCK_STREAM if p.proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    try:
        if p.proto == "tcp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((p.host_ip or "0.0.0.0", p.host_port))
    except OSError as e:
        if e.errno == 99:  # EADDRNOTAVAIL
            raise NetworkError(f"publish `{p}`: {p.host_ip} is not an address of this host") from None
        raise NetworkError(f"publish `{p}`: host port {p.shown()} is in use on the host "
                           f"({e.strerror})") from None
    finally:
        s.close()


def refresh_hosts(store: Store, network: str, netns: str) -> None:
    """Rewrite /etc/hosts of every container on the network here (caller holds the lock)."""
    members = ipam.members(store, network, netns)
    for addr, info in members:
        peers = [(a, i.get("names", [])) for a, i in members if a != addr]
        text = etcfiles.hosts_text(info.get("hostname", ""), [(addr, info.get("names", []))],
                                   [tuple(x) for x in info.get("extra", [])], peers)
        etcfiles.rewrite(info.get("hosts", ""), text)


def attach_veth(created: Created, mode: NetMode, want_ip: str | None) -> None:
    """The seed's recipe: a veth pair, ADDR/LEN on the host end, the next address (or --ip) inside."""
    from .release import link as release_link

    host_cidr = mode.arg
    host_addr, _, plen = host_cidr.partition("/")
    prefix = int(plen)
    h = ipv4.parse(host_addr)
    net = h & ipv4.mask(prefix)
    first, last = ipv4.hosts(net, prefix)
    inside = ipv4.parse(want_ip, "--ip") if want_ip else (h + 1 if h + 1 <= last else first)
    what = f"--network veth:{host_cidr}"
    if inside == h or not first <= inside <= last:
        raise NetworkError(f"{what}: container address {ipv4.fmt(inside)} is not another host address "
                           f"of {ipv4.cidr(net, prefix)}")
    ipr = links.iproute()
    try:
        where = links.addresses(ipr).get(host_addr)
        if where:
            raise NetworkError(f"{what}: address {host_addr} is already on the host's interface `{where}`")
        here = links.netns_id()
        krec = {"name": host_ifname(created.container.id), "netns": here}
        created.hold("net-link", f"delete veth `{krec['name']}`", lambda: release_link(krec), **krec)
        links.create_veth(ipr, krec["name"], created.pid)
        links.add_address(ipr, krec["name"], host_addr, prefix)
        links.configure_inside(created.pid, ipv4.fmt(inside), prefix, None)
    finally:
        ipr.close()
    info = lease_info(created, "")
    etcfiles.rewrite(info["hosts"], etcfiles.hosts_text(info["hostname"], [(ipv4.fmt(inside), info["names"])],
                                                        [tuple(x) for x in info["extra"]]))
