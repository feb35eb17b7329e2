"""Releasers of network resources (runtime/resources.py maps kinds here).

Idempotent: the container's owner on exit, ``nsbox rm`` and the garbage
collector after a SIGKILL call the same function with the same record.  Links,
bridges and nft elements live in a network namespace; they are released only
from that namespace (a record made elsewhere is left to that namespace's next
nsbox command, or vanished with it).  Leases are machine-wide: always released.
"""

from __future__ import annotations

import os


def _here(record: dict) -> bool:
    from .links import netns_id

    return not record.get("netns") or record["netns"] == netns_id()


def lease(record: dict) -> None:
    from . import ipam
    from .bridge import refresh_hosts
    from .store import Store

    with Store(record.get("store")) as store:
        ipam.release(store, record["network"], record["id"])
        if record.get("netns"):
            refresh_hosts(store, record["network"], record["netns"])


def bridge(record: dict) -> None:
    """Remove the bridge once no container in this namespace is on its network."""
    if not _here(record):
        return
    from . import firewall, ipam, links
    from .bridge import restore_uplinks
    from .nft import Nft
    from .store import Store

    with Store(record.get("store")) as store:
        if ipam.members(store, record["network"], record["netns"]):
            return
        ipr = links.iproute()
        nft = Nft()
        try:
            try:
                if links.bridge_of(ipr, record["bridge"], record["network"]) is not None:
                    links.delete(ipr, record["bridge"], "bridge")
            except links.NetworkError:
                pass  # not ours (recreated by someone else): leave it
            firewall.remove(nft, firewall.network_elements(record["bridge"], record["subnet"]),
                            f"network `{record['network']}`: remove {record['subnet']} from nftables")
            if not links.ours(ipr) and firewall.exists(nft):
                restore_uplinks(nft)
                firewall.drop(nft)
        finally:
            nft.close()
            ipr.close()


def link(record: dict) -> None:
    if not _here(record):
        return
    from . import links

    ipr = links.iproute()
    try:
        links.delete(ipr, record["name"], "veth")
    finally:
        ipr.close()


def ports(record: dict) -> None:
    if not _here(record):
        return
    from . import firewall
    from .nft import Nft

    items = [(name, elem) for name, elem in record.get("elements", [])]
    nft = Nft()
    try:
        if firewall.exists(nft):
            firewall.remove(nft, items, f"unpublish {', '.join(record.get('ports', []))}")
    finally:
        nft.close()


def helper(record: dict) -> None:
    """Stop a pasta or slirp4netns process, if the pid in its pidfile is still that program."""
    try:
        with open(record["pidfile"]) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return
    if pid <= 0 or not _is(pid, record.get("exe", "")):
        return
    import _signal
    import time

    for sig, wait in ((_signal.SIGTERM, 1.0), (_signal.SIGKILL, 1.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:  # a child of ours (we are a subreaper) must be reaped, or it stays a zombie
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:
                if not _is(pid, record.get("exe", "")):
                    return
            time.sleep(0.01)


def _is(pid: int, exe: str) -> bool:
    """Is ``pid`` (still) a live process of program ``exe``?  (pasta runs as passt.avx2.)"""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv0 = f.read().split(b"\0", 1)[0].decode(errors="replace")
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z" and os.path.basename(argv0).startswith(exe or "?")


def netns(record: dict) -> None:
    """Unregister a network namespace bound at /run/netns/NAME (pasta as root)."""
    from ..kernel.errors import KernelError
    from ..kernel.mount import umount

    path = record["path"]
    try:
        umount(path, 2)  # MNT_DETACH: pasta may still hold it open
    except KernelError as e:
        if e.errno not in (2, 22):  # ENOENT, EINVAL (not a mount point: never bound)
            raise
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
