"""``nsbox debug NAME|PID [OPTIONS] [--] [CMD...]``: an ephemeral debug container (kubectl debug --target).

It joins the target's PID and network namespaces (and its user namespace when it
has one), so ``ps`` shows the target's processes, ``ss``/``ip`` its sockets and
interfaces, and its file system is at /proc/<pid>/root (/proc/1/root for its
init when that is PID 1).  The root is the host's system directories by default
(read-only: the host's tools), or --rootfs.  It is removed when CMD exits.
"""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

COMMAND = Command(
    "debug", "debug [OPTIONS] NAME|PID [--] [CMD...]",
    "Run CMD (default /bin/sh) in a new container that shares NAME's PID and network\n"
    "namespaces, with the host's tools; the target's files are at /proc/1/root.",
    [Opt("--rootfs", "rootfs", help="root filesystem for the debug container (default: the host's "
         "system directories, read-only)", metavar="DIR|TARBALL"),
     Opt("--name", "name", help="a name for the debug container"),
     Opt("-e --env", "env", "list", "set an environment variable", "KEY=VALUE"),
     Opt("-w --workdir", "workdir", help="working directory inside", metavar="DIR"),
     Opt("-u --user", "user", help="user inside: UID[:GID] or NAME[:GROUP]", metavar="USER"),
     Opt("-i --interactive", "interactive", "bool", "keep stdin open"),
     Opt("-t --tty", "tty", "bool", "give the debug container a terminal")],
    positionals=1)


def main(argv: list[str]) -> int:
    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if not rest:
        raise UsageError("debug: the target container's name is needed (see nsbox debug --help)")
    ref, command = rest[0], rest[1:] or ["/bin/sh"]
    from ..inspect.target import ns_inode, resolve
    from ..specgen.options import RunOptions

    target = resolve(ref, "debug")
    userns = None
    if target.container is not None:
        pid = net = f"container:{target.container.id}"  # joins its user namespace too (builder)
    else:
        # any process (a Docker container's, a service's): its namespaces by path
        pid, net = f"ns:/proc/{target.pid}/ns/pid", f"ns:/proc/{target.pid}/ns/net"
        if ns_inode(target.pid, "user") not in (None, ns_inode("self", "user")):
            userns = f"ns:/proc/{target.pid}/ns/user"
    opts = RunOptions(command=tuple(command), rootfs=values["rootfs"], name=values["name"],
                      env=tuple(values["env"]), workdir=values["workdir"], user=values["user"],
                      interactive=values["interactive"], tty=values["tty"], pid=pid, network=net,
                      userns=userns)
    from .foreground import run as run_foreground

    sys.stdout.flush()
    return run_foreground(opts)
