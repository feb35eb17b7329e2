"""``nsbox ns``: list namespaces like lsns(8), with the nsbox container owning each."""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

COMMAND = Command(
    "ns", "ns [-t TYPE] [--container NAME] [-p PID] [--format table|json] [NS-INODE]",
    "List every namespace on the machine, one row each: NS TYPE NPROCS PID USER COMMAND as\n"
    "lsns(8) prints them (same counts), and CONTAINER, the nsbox container that made it.",
    [Opt("-t --type", "type", "list", "only namespaces of this type: mnt, net, pid, uts, ipc, user, "
         "cgroup, time (repeatable, comma-separated)", "TYPE"),
     Opt("--container", "container", help="only the namespaces this nsbox container made (not those it "
         "shares with the host)", metavar="NAME"),
     Opt("-p --pid --task", "pid", help="only the namespaces this process is in", metavar="PID"),
     Opt("--format", "format", help="table (default) or json", metavar="FORMAT"),
     Opt("-J --json", "json", "bool", "same as --format json"),
     Opt("-l --list", "list", "bool", "no process tree in COMMAND"),
     Opt("-n --noheadings", "noheadings", "bool", "do not print the header line")],
    positionals=None)


def main(argv: list[str]) -> int:
    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    from ..inspect import lsns
    from ..inspect.target import NS_TYPES, host_reference, ns_inode, ns_type, open_store, resolve

    types: list[str] = []
    inodes = {int(x) for x in rest if x.isdigit()}  # lsns [<namespace>]: an inode
    for item in list(values["type"]) + [x for x in rest if not x.isdigit()]:  # or a type, for convenience
        for part in item.split(","):
            if part.strip():
                t = ns_type(part, "ns --type")
                if t not in types:
                    types.append(t)
    fmt = "json" if values["json"] else (values["format"] or "table")
    if fmt not in ("table", "json"):
        raise UsageError(f"ns --format `{fmt}`: expected table or json")
    store = open_store()
    pid = None
    if values["pid"] is not None:
        text = str(values["pid"])
        if not text.isdigit() or int(text) <= 0:
            raise UsageError(f"ns --pid `{text}`: expected a process id")
        pid = int(text)
        from os.path import isdir

        if not isdir(f"/proc/{pid}"):
            from ..errors import NsboxError

            raise NsboxError(f"ns --pid `{text}`: no such process")
    host = host_reference()[1]
    if values["container"] is not None:
        # the namespaces the container made: its init's, minus those it shares with the host
        ref = str(values["container"])
        target = resolve(ref, "ns --container", store)
        if target.container is None:
            from ..errors import NsboxError

            raise NsboxError(f"ns --container `{ref}`: not an nsbox container (use --pid for any process)")
        made = {ns_inode(target.pid, t) for t in NS_TYPES} - set(host.values()) - {None}
        inodes = (inodes & made) if inodes else made
    rows = lsns.scan(tuple(t for t in NS_TYPES if not types or t in types))
    rows = lsns.select(rows, pid)
    if inodes or values["container"] is not None:
        rows = [ns for ns in rows if ns.inode in inodes]
    owners = lsns.owners(store, host)
    for ns in rows:
        ns.container = owners.get(ns.inode)
    out = lsns.as_rows(rows, tree=not values["list"] and fmt == "table")
    if fmt == "json":
        from .. import jsonio

        for r in out:
            del r["prefix"]
        sys.stdout.write(jsonio.dumps({"namespaces": out}, indent=2) + "\n")
        return 0
    sys.stdout.write(lsns.format_table(out, noheadings=values["noheadings"]))
    return 0
