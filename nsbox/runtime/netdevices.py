"""linux.netDevices (config-linux.md "Network Devices"): host interfaces moved into
the container's new network namespace, renamed if asked, their permanent
global addresses kept, and set up.

The move and the rename are one RTM_NEWLINK (IFLA_NET_NS_PID with IFLA_IFNAME:
the kernel refuses a name taken in the container, or fills a ``%d`` template);
the addresses (which a move drops) and the "up" are applied by a child that
joins the container's network namespace.  Nothing is moved back: when the
namespace goes, the kernel returns physical devices to the initial namespace
and destroys virtual ones, as the spec says it should.
"""

from __future__ import annotations

import os

from ..errors import ConfigError, NsboxError

IFA_F_PERMANENT = 0x80
RT_SCOPE_UNIVERSE = 0


def move(devices: dict, pid: int) -> None:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    moved = []
    with IPRoute() as ip:
        for host_name, opts in devices.items():
            new = (opts or {}).get("name") or host_name
            found = ip.link_lookup(ifname=host_name)
            if not found:
                raise ConfigError(f"linux.netDevices.{host_name}: no such network device on the host")
            addrs = [(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ip.get_addr(index=found[0])
                     if a["scope"] == RT_SCOPE_UNIVERSE
                     and (a.get_attr("IFA_FLAGS") or a["flags"]) & IFA_F_PERMANENT]
            try:
                ip.link("set", index=found[0], net_ns_pid=pid, ifname=new)
            except NetlinkError as e:
                raise NsboxError(f"linux.netDevices.{host_name}: move into the container as `{new}`: "
                                 f"{os.strerror(e.code)}") from None
            moved.append((new, addrs))
    _configure_inside(pid, moved)


def _configure_inside(pid: int, moved: list) -> None:
    """Addresses and link up, from a child in the container's network namespace."""
    r, w = os.pipe2(os.O_CLOEXEC)
    child = os.fork()
    if child == 0:
        os.close(r)
        try:
            from pyroute2 import IPRoute

            from ..kernel import ns

            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            ns.setns(fd, "network", f"/proc/{pid}/ns/net")
            with IPRoute() as ip:
                for name, addrs in moved:
                    idx = ip.link_lookup(ifname=name)[0]
                    for addr, prefix in addrs:
                        ip.addr("add", index=idx, address=addr, prefixlen=prefix)
                    ip.link("set", index=idx, state="up")
            os._exit(0)
        except BaseException as e:  # noqa: BLE001 - a forked child reports and exits
            os.write(w, str(e).encode()[:1000])
            os._exit(1)
    os.close(w)
    try:
        msg = os.read(r, 1000).decode()
    finally:
        os.close(r)
    _pid, status = os.waitpid(child, 0)
    if status != 0:
        raise NsboxError(f"linux.netDevices: configure the moved devices in the container: {msg or status}")
