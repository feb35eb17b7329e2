"""nsbox's nftables table: NAT, forwarding and published ports, scoped to our networks.

One table, ``ip nsbox``, per network namespace; everything container-specific is
an *element* of its sets and maps, so starting or stopping a container never
adds or deletes a rule (no rule handles to track, no ordering between writers)::

    set subnets     our networks' subnets            map ports       proto . port : addr . port
    set bridges     our bridges                      map addr_ports  ip . proto . port : addr . port
    set samebridge  bridge . bridge                  set uplinks     uplinks we let forward

    guard       (prerouting, raw)   from a bridge to 127.0.0.0/8: drop (CVE-2020-8558, route_localnet)
    prerouting  (nat, dstnat)       to a local address: jump publish (other hosts, containers)
    output      (nat, -100)         to a local address: jump publish (the host itself, 127.0.0.1 too)
    publish                         dnat through addr_ports, then ports
    postrouting (nat, srcnat)       masquerade: 127.0.0.1 -> container; published port hairpin;
                                    our subnets leaving through a non-nsbox interface
    forward     (filter)            into a bridge: established or DNATed only (and within one bridge);
                                    out of a bridge: accept; from an uplink we enabled: drop the rest

Other tables are never touched.  A drop verdict in another table (a host firewall
with a forward policy of drop) still wins; nsbox does not override it.
"""

from __future__ import annotations

from .nft import Nft, NftError

FAMILY = "ip"
TABLE = "nsbox"
T = {"family": FAMILY, "table": TABLE}


# The table in nft's own syntax: libnftables 1.0.6 (Debian 12) crashes parsing the
# JSON form of a DNAT through a concatenated map, and this reads better anyway.
# Everything that changes at run time (elements) goes through the JSON API.
SKELETON = """
table ip nsbox {
  set subnets { type ipv4_addr; flags interval; }
  set bridges { type ifname; }
  set samebridge { type ifname . ifname; }
  set uplinks { type ifname; }
  map ports { type inet_proto . inet_service : ipv4_addr . inet_service; }
  map addr_ports { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }
  chain guard {
    type filter hook prerouting priority raw; policy accept;
    iifname @bridges ip daddr 127.0.0.0/8 drop
  }
  chain publish {
    dnat ip to ip daddr . meta l4proto . th dport map @addr_ports
    dnat ip to meta l4proto . th dport map @ports
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local jump publish
  }
  chain output {
    type nat hook output priority -100; policy accept;
    fib daddr type local jump publish
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname @bridges ip saddr 127.0.0.0/8 masquerade
    oifname @bridges ct status dnat ip saddr @subnets masquerade
    ip saddr @subnets oifname != @bridges masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    oifname @bridges ct state established,related accept
    oifname @bridges ct status dnat accept
    iifname . oifname @samebridge accept
    oifname @bridges drop
    iifname @bridges accept
    iifname @uplinks drop
  }
}
"""


def exists(nft: Nft) -> bool:
    try:
        nft.list("table", FAMILY, TABLE)
        return True
    except NftError as e:
        if e.enoent:
            return False
        raise


def ensure(nft: Nft) -> bool:
    """Create the table if this namespace has none (caller holds the store lock)."""
    if exists(nft):
        return False
    nft.run_text(SKELETON, "create nftables table ip nsbox")
    return True


def drop(nft: Nft) -> None:
    try:
        nft.run([{"delete": {"table": {"family": FAMILY, "name": TABLE}}}], "delete nftables table ip nsbox")
    except NftError as e:
        if not e.enoent:
            raise


def _elements(op: str, name: str, elems: list) -> dict:
    return {op: {"element": dict(T, name=name, elem=elems)}}


def _prefix(cidr: str) -> dict:
    addr, _, plen = cidr.partition("/")
    return {"prefix": {"addr": addr, "len": int(plen)}}


def network_elements(bridge: str, subnet: str) -> list[tuple[str, object]]:
    return [("subnets", _prefix(subnet)), ("bridges", bridge),
            ("samebridge", {"concat": [bridge, bridge]})]


def add(nft: Nft, items: list[tuple[str, object]], what: str) -> None:
    if items:
        nft.run([_elements("add", name, [e]) for name, e in items], what)


def remove(nft: Nft, items: list[tuple[str, object]], what: str) -> None:
    """Delete elements; ones already gone (or a table already gone) are fine."""
    if not items:
        return
    try:
        nft.run([_elements("delete", name, [e]) for name, e in items], what)
        return
    except NftError as e:
        if not e.enoent:
            raise
    for name, e in items:  # the batch failed as a whole: one by one, skipping the missing
        try:
            nft.run([_elements("delete", name, [e])], what)
        except NftError as err:
            if not err.enoent:
                raise


def port_elements(ports: list, addr: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for p in ports:
        target = {"concat": [addr, p.port]}
        if p.host_ip:
            out.append(("addr_ports", [{"concat": [p.host_ip, p.proto, p.host_port]}, target]))
        else:
            out.append(("ports", [{"concat": [p.proto, p.host_port]}, target]))
    return out


def published(nft: Nft) -> list[tuple[str, str, int, str]]:
    """(proto, host_ip or "", host_port, "addr:port") of every published port here."""
    out = []
    for name in ("ports", "addr_ports"):
        try:
            objs = nft.list("map", FAMILY, TABLE, name)
        except NftError as e:
            if e.enoent:
                continue
            raise
        for obj in objs:
            for key, value in obj.get("map", {}).get("elem", []):
                k, v = key["concat"], value["concat"]
                ip, proto, port = (k if len(k) == 3 else ["", *k])
                out.append((proto, ip, int(port), f"{v[0]}:{v[1]}"))
    return out


def set_members(nft: Nft, name: str) -> list:
    try:
        objs = nft.list("set", FAMILY, TABLE, name)
    except NftError as e:
        if e.enoent:
            return []
        raise
    return [e for o in objs for e in o.get("set", {}).get("elem", [])]
