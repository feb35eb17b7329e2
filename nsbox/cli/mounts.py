"""``nsbox mounts NAME|PID``: the mount tree of a container or any process (findmnt -N)."""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

COMMAND = Command(
    "mounts", "mounts [--format table|json] [-l] NAME|PID",
    "Show the mount tree a container or any process sees, read from its mountinfo: TARGET,\n"
    "SOURCE, FSTYPE, OPTIONS and PROPAGATION (shared:N, master:N, unbindable), like findmnt -N.",
    [Opt("--format", "format", help="table (default) or json", metavar="FORMAT"),
     Opt("-J --json", "json", "bool", "same as --format json"),
     Opt("-l --list", "list", "bool", "a flat list in mount id order instead of a tree"),
     Opt("-n --noheadings", "noheadings", "bool", "do not print the header line")])


def main(argv: list[str]) -> int:
    values, refs = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if len(refs) != 1:
        raise UsageError("mounts: expected one container name or PID (see nsbox mounts --help)")
    fmt = "json" if values["json"] else (values["format"] or "table")
    if fmt not in ("table", "json"):
        raise UsageError(f"mounts --format `{fmt}`: expected table or json")
    from .. import procfs
    from ..inspect.findmnt import Tree, to_json, to_table
    from ..inspect.target import resolve

    target = resolve(refs[0], "mounts", running=True)
    try:
        mounts = procfs.mountinfo(target.pid)
    except OSError as e:
        from ..errors import NsboxError

        raise NsboxError(f"mounts `{refs[0]}`: read /proc/{target.pid}/mountinfo: {e.strerror}") from None
    tree = Tree(mounts)
    if fmt == "json":
        from .. import jsonio

        sys.stdout.write(jsonio.dumps({"filesystems": to_json(tree)}, indent=2) + "\n")
    else:
        sys.stdout.write(to_table(tree, as_list=values["list"], noheadings=values["noheadings"]))
    return 0
