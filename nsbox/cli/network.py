"""``nsbox network create|ls|rm|inspect``: bridge networks (root).

    nsbox network create [--subnet CIDR] [--gateway ADDR] NAME
    nsbox network ls [-q] [--format json]
    nsbox network inspect NAME...
    nsbox network rm NAME...

A network is a definition (subnet, gateway, bridge name); its bridge exists in
a network namespace only while a container there is on it.
"""

from __future__ import annotations

import os
import sys

from .args import Command, Opt, UsageError

CREATE = Command("network create", "network create [--subnet CIDR] [--gateway ADDR] NAME",
                 "Define a bridge network (its bridge appears with its first container).",
                 [Opt("--subnet", "subnet", help="IPv4 subnet (default: the first free /24 of 10.91.0.0/16)",
                      metavar="CIDR"),
                  Opt("--gateway", "gateway", help="the bridge's address (default: the subnet's first)",
                      metavar="ADDR")])
LS = Command("network ls", "network ls [-q] [--format json]", "List networks.",
             [Opt("-q --quiet", "quiet", "bool", "names only"),
              Opt("--format", "format", help="json: one JSON array", metavar="FORMAT")])
INSPECT = Command("network inspect", "network inspect NAME...", "Show networks and their containers as JSON.", [])
RM = Command("network rm", "network rm NAME...", "Remove networks no container is on.", [])
SUBCOMMANDS = {"create": CREATE, "ls": LS, "list": LS, "inspect": INSPECT, "rm": RM, "remove": RM}
USAGE = """usage: nsbox network COMMAND

Manage bridge networks (root; rootless containers use --network pasta or slirp4netns).

commands:
  create    define a network: nsbox network create [--subnet CIDR] NAME
  ls        list networks
  inspect   show networks and their containers as JSON
  rm        remove networks
"""


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(USAGE)
        return 0 if argv else 2
    cmd = SUBCOMMANDS.get(argv[0])
    if cmd is None:
        raise UsageError(f"network: unknown command `{argv[0]}` (create, ls, inspect, rm)")
    values, names = cmd.parse(argv[1:])
    if values["help"]:
        sys.stdout.write(cmd.help_text() + "\n")
        return 0
    return {"create": create, "ls": ls, "inspect": inspect, "rm": rm}[cmd.name.split()[1]](values, names)


def _root(op: str) -> None:
    if os.geteuid() != 0:
        from ..net.store import NetworkError

        raise NetworkError(f"{op}: bridge networks need root (rootless containers use --network pasta "
                           "or --network slirp4netns)")


def create(values: dict, names: list[str]) -> int:
    if len(names) != 1:
        raise UsageError("network create: give exactly one NAME")
    _root(f"network create `{names[0]}`")
    from ..net import links
    from ..net.store import Store

    ipr = links.iproute()
    try:
        routes = links.routes(ipr, skip=tuple(links.ours(ipr)))
    finally:
        ipr.close()
    with Store() as store:
        net = store.create(names[0], values["subnet"], values["gateway"], routes)
    sys.stdout.write(net.name + "\n")
    return 0


def _members(store, name: str) -> list[tuple[str, dict]]:
    from ..net import ipam

    return ipam.members(store, name)


def ls(values: dict, names: list[str]) -> int:
    if names:
        raise UsageError(f"network ls: unexpected argument `{names[0]}`")
    from ..net.store import Store

    store = Store()
    nets = store.all()
    if values["format"] == "json":
        from .. import jsonio

        sys.stdout.write(jsonio.dumps([_describe(store, n) for n in nets], indent=2) + "\n")
        return 0
    if values["format"]:
        raise UsageError(f"network ls: --format `{values['format']}`: only json is known")
    if values["quiet"]:
        sys.stdout.write("".join(n.name + "\n" for n in nets))
        return 0
    rows = [("NAME", "DRIVER", "SUBNET", "GATEWAY", "BRIDGE", "CONTAINERS")]
    for n in nets:
        rows.append((n.name, "bridge", n.subnet, n.gateway, n.bridge, str(len(_members(store, n.name)))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")
    return 0


def _describe(store, net) -> dict:
    d = net.to_json()
    d["builtin"] = net.builtin
    d["containers"] = {info.get("id", ""): {"name": info.get("name", ""), "address": addr,
                                             "hostname": info.get("hostname", "")}
                       for addr, info in _members(store, net.name)}
    return d


def inspect(values: dict, names: list[str]) -> int:
    if not names:
        raise UsageError("network inspect: give at least one NAME")
    from .. import jsonio
    from ..net.store import Store

    store = Store()
    out = [_describe(store, store.get(n)) for n in names]
    sys.stdout.write(jsonio.dumps(out, indent=2) + "\n")
    return 0


def rm(values: dict, names: list[str]) -> int:
    if not names:
        raise UsageError("network rm: give at least one NAME")
    _root(f"network rm `{names[0]}`")
    from ..net import release
    from ..net.store import NetworkError, Store

    failed = 0
    for name in names:
        try:
            with Store() as store:
                net = store.get(name)
                users = _members(store, name)
                if users:
                    who = ", ".join(i.get("name") or i.get("id", "")[:12] for _a, i in users)
                    raise NetworkError(f"network rm `{name}`: in use by {len(users)} container(s): {who}")
                from ..net.links import netns_id

                release.bridge({"network": name, "bridge": net.bridge, "subnet": net.subnet,
                                "netns": netns_id()})
                store.remove(name)
            sys.stdout.write(name + "\n")
        except NetworkError as e:
            from .main import err

            err(str(e))
            failed = 1
    return failed
