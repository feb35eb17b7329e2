"""``nsbox run [OPTIONS] [--] CMD [ARGS...]``: flags -> RunOptions -> the engine."""

from __future__ import annotations

import sys

from .args import Command, Opt

OPTIONS = [
    Opt("--rootfs", "rootfs", help="root filesystem: a directory or a tar/tar.gz/tar.xz "
        "(default: the host's system directories, read-only)", metavar="DIR|TARBALL"),
    Opt("--name", "name", help="a name for the container"),
    Opt("-d --detach", "detach", "bool", "run in the background; print the container id"),
    Opt("--rm", "rm", "bool", "remove the container when it exits (foreground runs always are)"),
    Opt("--hostname", "hostname", help="hostname inside (default: the short container id)"),
    Opt("--domainname", "domainname", help="NIS domain name inside"),
    Opt("-e --env", "env", "list", "set an environment variable (KEY=VALUE, or KEY to pass ours)",
        "KEY=VALUE"),
    Opt("--env-file", "env_file", "list", "read KEY=VALUE lines from a file", "FILE"),
    Opt("-w --workdir", "workdir", help="working directory inside", metavar="DIR"),
    Opt("-u --user", "user", help="user inside: UID[:GID] or NAME[:GROUP]", metavar="USER"),
    Opt("-i --interactive", "interactive", "bool", "keep stdin open (passed through by default)"),
    Opt("-t --tty", "tty", "bool", "give the container a terminal (a pty in its own devpts)"),
    Opt("--init", "init", "bool", "run a minimal init as PID 1 that forwards signals and reaps zombies"),
    Opt("--share", "share", "list", "share namespaces with the host: any of user,mount,pid,net,ipc,"
        "uts,cgroup,time (comma-separated, repeatable)", "KINDS"),
    Opt("--ns", "ns", "list", "join an existing namespace: KIND=PATH (/proc/PID/ns/net, "
        "/run/netns/NAME)", "KIND=PATH"),
    Opt("--network --net", "network", help="none (loopback only; the default of a foreground run), host, "
        "ns:PATH, container:NAME, bridge (the default with -d or -p, as root), NAME (nsbox network "
        "create), veth:ADDR/LEN, pasta[:ARGS] (the default with -d or -p, rootless), slirp4netns[:OPTS]",
        metavar="MODE"),
    Opt("-p --publish", "publish", "list", "publish a container port on the host (bridge, pasta, "
        "slirp4netns)", "[IP:]HOSTPORT:PORT[/tcp|udp]"),
    Opt("--ip", "ip", help="the container's IPv4 address on its bridge network (or veth)", metavar="ADDR"),
    Opt("--dns", "dns", "list", "a nameserver for the container's /etc/resolv.conf", "ADDR"),
    Opt("--add-host", "add_host", "list", "add a line to the container's /etc/hosts", "HOST:IP"),
    Opt("--pid", "pid", help="host, private (default) or ns:PATH", metavar="MODE"),
    Opt("--ipc", "ipc", help="host, private (default) or ns:PATH", metavar="MODE"),
    Opt("--uts", "uts", help="host, private (default) or ns:PATH", metavar="MODE"),
    Opt("--cgroupns", "cgroupns", help="host, private (default) or ns:PATH", metavar="MODE"),
    Opt("--userns", "userns", help="host (root's default), private (rootless default: you are root "
        "inside), auto (your /etc/subuid range), ns:PATH", metavar="MODE"),
    Opt("--uidmap", "uidmap", "list", "map container uids to host uids (repeatable; rootless "
        "through newuidmap)", "IN:OUT:COUNT"),
    Opt("--gidmap", "gidmap", "list", "map container gids (default: like --uidmap)", "IN:OUT:COUNT"),
    Opt("--time-offset", "time_offset", "list", "shift a clock in the new time namespace: "
        "monotonic=SECONDS or boottime=SECONDS", "CLOCK=SECS"),
    Opt("--propagation", "propagation", help="mount propagation of the root: private (default), "
        "slave, shared or unbindable", metavar="TYPE"),
    Opt("-v --volume", "volume", "list", "bind mount SRC on DST; OPTS: ro, rw, private, slave, shared, "
        "unbindable (r-prefixed too), nosuid, nodev, noexec", "SRC:DST[:OPTS]"),
    Opt("--tmpfs", "tmpfs", "list", "mount a tmpfs on DST", "DST[:OPTS]"),
    Opt("--read-only", "read_only", "bool", "mount the container's root read-only"),
]

COMMAND = Command("run", "run [OPTIONS] [--] CMD [ARGS...]",
                  "Run CMD as PID 1 of a new container; exit with its status.", OPTIONS, positionals=0)


def options_from(values: dict, command: list[str]):
    from ..spec.options import RunOptions

    fields = {f.name for f in RunOptions._fields}
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in fields}
    return RunOptions(command=tuple(command), **kw)


def main(argv: list[str]) -> int:
    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    opts = options_from(values, rest)
    if opts.detach:
        from ..runtime.detach import run_detached

        return run_detached(opts)
    from ..runtime.run import run_foreground

    sys.stdout.flush()
    return run_foreground(opts)
