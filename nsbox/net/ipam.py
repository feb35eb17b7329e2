"""IP address management: one lease file per network, changed under the store's lock.

``<dir>/<network>.leases`` maps address -> the container holding it (id, name,
hostname, state directory, network namespace).  Addresses are handed out round
robin after the last one given (as CNI's host-local does), so an address just
freed is not reused at once while stale ARP entries or connections still point
at it.  A lease whose container directory is gone (its state root removed after
a crash) is stale and reclaimed; every other lease is released by the
container's owner, ``nsbox rm`` or the garbage collector.
"""

from __future__ import annotations

import os

from .. import jsonio
from ..errors import ConfigError
from . import ipv4
from .store import Network, NetworkError, Store


def _file(store: Store, name: str) -> str:
    return f"{store.path}/{name}.leases"


def load(store: Store, name: str) -> dict:
    try:
        data = jsonio.load_file(_file(store, name))
    except FileNotFoundError:
        return {"last": "", "leases": {}}
    except (OSError, ValueError) as e:
        raise NetworkError(f"network `{name}`: unreadable leases `{_file(store, name)}`: {e}") from None
    data.setdefault("leases", {})
    return data


def save(store: Store, name: str, data: dict) -> None:
    if not data["leases"]:
        try:
            os.unlink(_file(store, name))
        except FileNotFoundError:
            pass
        return
    jsonio.write_atomic(_file(store, name), data, mode=0o644, indent=1)


def _live(info: dict) -> bool:
    state = info.get("state")
    return not state or os.path.isdir(state)


def prune(data: dict) -> bool:
    dead = [a for a, info in data["leases"].items() if not _live(info)]
    for a in dead:
        del data["leases"][a]
    return bool(dead)


def allocate(store: Store, net: Network, cid: str, info: dict, want: str | None = None) -> str:
    """A free address of ``net`` for ``cid`` (caller holds the store lock)."""
    data = load(store, net.name)
    changed = prune(data)
    for addr, held in data["leases"].items():
        if held.get("id") == cid:
            return addr  # idempotent: a retried set-up keeps its address
    base, prefix = net.net
    first, last = ipv4.hosts(base, prefix)
    gw = ipv4.parse(net.gateway)
    taken = {ipv4.parse(a) for a in data["leases"]} | {gw}
    if want:
        addr = ipv4.parse(want, "--ip")
        if not ipv4.contains(base, prefix, addr) or not first <= addr <= last:
            raise NetworkError(f"network `{net.name}`: address {want} is not a host address of {net.subnet}")
        if addr == gw:
            raise NetworkError(f"network `{net.name}`: address {want} is the network's gateway")
        if addr in taken:
            owner = data["leases"][ipv4.fmt(addr)]
            raise NetworkError(f"network `{net.name}`: address {want} is already in use by container "
                               f"{owner.get('name') or owner.get('id', '?')[:12]}")
    else:
        addr = _next_free(first, last, taken, _last(data))
        if addr is None:
            if changed:
                save(store, net.name, data)
            raise NetworkError(f"network `{net.name}`: address pool {net.subnet} exhausted "
                               f"({len(data['leases'])} containers hold its {last - first} addresses)")
    data["last"] = ipv4.fmt(addr)
    text = ipv4.fmt(addr)
    data["leases"][text] = dict(info, id=cid)
    save(store, net.name, data)
    return text


def _last(data: dict) -> int:
    try:
        return ipv4.parse(str(data.get("last") or "0.0.0.0"))
    except ConfigError:  # a hand-edited file: start from the beginning
        return 0


def _next_free(first: int, last: int, taken: set[int], after: int) -> int | None:
    span = last - first + 1
    start = after + 1 if first <= after < last else first
    for i in range(span):
        cand = first + (start - first + i) % span
        if cand not in taken:
            return cand
    return None


def release(store: Store, name: str, cid: str) -> list[str]:
    """Drop ``cid``'s leases on network ``name``; returns the addresses freed."""
    data = load(store, name)
    freed = [a for a, info in data["leases"].items() if info.get("id") == cid]
    for a in freed:
        del data["leases"][a]
    if freed or prune(data):
        save(store, name, data)
    return freed


def members(store: Store, name: str, netns: str | None = None) -> list[tuple[str, dict]]:
    """Live leases (address, info), optionally only those in one network namespace."""
    data = load(store, name)
    if prune(data):
        save(store, name, data)
    return [(a, info) for a, info in data["leases"].items() if netns is None or info.get("netns") == netns]
