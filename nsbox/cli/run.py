"""``nsbox run [OPTIONS] [--] CMD [ARGS...]``: flags -> RunOptions -> the engine."""

from __future__ import annotations

import sys

from .args import Command, Opt

OPTIONS = [
    Opt("--image", "image", help="run an image of the store (nsbox pull/load): its layers are the root, its "
        "config gives the command, environment, working directory and user", metavar="IMAGE"),
    Opt("--entrypoint", "entrypoint", help="replace the image's Entrypoint (and drop its Cmd): a program, "
        "or a JSON array", metavar="CMD"),
    Opt("--pull", "pull", help="missing (default): pull the image if it is not in the store; always; never",
        metavar="POLICY"),
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
    # privileges (nsbox.specgen.privileges)
    Opt("--privileged", "privileged", "bool", "every capability, no seccomp filter, no masked or "
        "read-only /proc and /sys paths, the host's devices"),
    Opt("--cap-add", "cap_add", "list", "add a capability (NET_ADMIN, CAP_SYS_TIME, ALL; "
        "comma-separated, repeatable)", "CAP"),
    Opt("--cap-drop", "cap_drop", "list", "drop a capability from the default set (or ALL)", "CAP"),
    Opt("--security-opt", "security_opt", "list", "no-new-privileges=false, seccomp=unconfined, "
        "seccomp=PROFILE.json (Docker or OCI form), systempaths=unconfined, mask=PATHS, unmask=PATHS",
        "OPT"),
    Opt("--ulimit", "ulimit", "list", "resource limit, e.g. nofile=1024:2048 (NAME=SOFT[:HARD])",
        "NAME=SOFT[:HARD]"),
    Opt("--sysctl", "sysctl", "list", "a namespaced kernel parameter of the container (net.*, "
        "kernel.shm*/msg*/sem, fs.mqueue.*, kernel.domainname), e.g. net.ipv4.ip_unprivileged_port_start=0",
        "KEY=VALUE"),
    Opt("--oom-score-adj", "oom_score_adj", help="OOM killer preference of the container (-1000..1000)",
        metavar="N"),
    Opt("--group-add", "group_add", "list", "an extra group for the container's user (name or gid)",
        "GROUP"),
    Opt("--landlock-ro", "landlock_ro", "list", "Landlock: allow reading and executing beneath PATH "
        "only (with --landlock-rw: all else is denied; /dev/null and the like stay usable)", "PATH"),
    Opt("--landlock-rw", "landlock_rw", "list", "Landlock: allow full access beneath PATH", "PATH"),
    # resources (cgroups v1 and v2), Docker's names and units
    Opt("-m --memory", "memory", help="memory limit (e.g. 256m, 1g; minimum 6m)", metavar="BYTES"),
    Opt("--memory-swap", "memory_swap", help="memory+swap limit (-1: unlimited swap; default: twice "
        "--memory)", metavar="BYTES"),
    Opt("--memory-reservation", "memory_reservation", help="soft memory limit", metavar="BYTES"),
    Opt("--memory-swappiness", "memory_swappiness", help="0-100 (cgroup v1)", metavar="N"),
    Opt("--oom-kill-disable", "oom_kill_disable", "bool", "do not OOM-kill on reaching --memory (cgroup v1)"),
    Opt("--cpus", "cpus", help="CPU time limit in CPUs (e.g. 1.5)", metavar="N"),
    Opt("-c --cpu-shares", "cpu_shares", help="relative CPU weight, v1 scale (2-262144, default 1024)",
        metavar="N"),
    Opt("--cpu-weight", "cpu_weight", help="relative CPU weight, v2 scale (1-10000, default 100)", metavar="N"),
    Opt("--cpu-period", "cpu_period", help="CFS period in µs (with --cpu-quota)", metavar="US"),
    Opt("--cpu-quota", "cpu_quota", help="CFS quota in µs per period", metavar="US"),
    Opt("--cpuset-cpus", "cpuset_cpus", help="CPUs to run on (e.g. 0-1,3)", metavar="LIST"),
    Opt("--cpuset-mems", "cpuset_mems", help="memory nodes to allocate from", metavar="LIST"),
    Opt("--pids-limit", "pids_limit", help="maximum number of processes (-1: unlimited)", metavar="N"),
    Opt("--io-weight", "io_weight", help="relative block I/O weight, v2 scale (1-10000)", metavar="N"),
    Opt("--blkio-weight", "blkio_weight", help="relative block I/O weight, v1 scale (10-1000)", metavar="N"),
    Opt("--blkio-weight-device", "blkio_weight_device", "list", "per-device I/O weight", "DEV:WEIGHT"),
    Opt("--device-read-bps", "device_read_bps", "list", "read rate limit of a block device (e.g. "
        "/dev/vda:1mb)", "DEV:RATE"),
    Opt("--device-write-bps", "device_write_bps", "list", "write rate limit of a block device", "DEV:RATE"),
    Opt("--device-read-iops", "device_read_iops", "list", "read IO/s limit of a block device", "DEV:N"),
    Opt("--device-write-iops", "device_write_iops", "list", "write IO/s limit of a block device", "DEV:N"),
    Opt("--cgroup-conf", "cgroup_conf", "list", "write a cgroup v2 file of the container's cgroup",
        "FILE=VALUE"),
    Opt("--cgroup-parent", "cgroup_parent", help="parent cgroup of the container's (default /nsbox; "
        "rootless: under your delegated cgroup v2 subtree)", metavar="PATH"),
    Opt("--strict-limits", "strict_limits", "bool", "fail, rather than warn, when a limit cannot be "
        "applied on this machine"),
]

COMMAND = Command("run", "run [OPTIONS] IMAGE [CMD [ARGS...]]\n       nsbox run [OPTIONS] [--] CMD [ARGS...]",
                  "Run CMD as PID 1 of a new container; exit with its status.\n\n"
                  "Without --image or --rootfs, the first word is an IMAGE when it is the name or id of a local\n"
                  "image, or when it is an image reference (alpine, docker.io/library/alpine:3.20) that is not\n"
                  "a program on the default root's PATH; else it is the command, run on the host's system\n"
                  "directories (read-only).  Words starting with / or ., and a first word after `--`, are\n"
                  "always commands.  Use --image to be explicit.", OPTIONS, positionals=0)


def options_from(values: dict, command: list[str]):
    from ..specgen.options import RunOptions

    fields = {f.name for f in RunOptions._table()}
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in fields}
    return RunOptions(command=tuple(command), **kw)


def _is_image(word: str) -> bool:
    """The first positional's rule (see the help text)."""
    import os

    from ..image.refs import looks_like_reference

    if word[:1] in ("/", ".", "-") or not looks_like_reference(word):
        return False
    from ..image.store import Store

    try:
        if Store().find(word) is not None:
            return True
    except Exception:  # noqa: BLE001 - an unreadable store: decide by PATH (run reports it if used)
        pass
    from ..specgen.user import DEFAULT_PATH

    return not any(os.access(f"{d}/{word}", os.X_OK) for d in DEFAULT_PATH.split(":"))


def _pull_if_needed(image: str, policy: str) -> None:
    """Podman's --pull policies; the pull shows its progress on stderr."""
    from ..errors import ConfigError

    if policy not in ("missing", "always", "never"):
        raise ConfigError(f"--pull `{policy}`: expected missing, always or never")
    if policy == "never":
        return
    from ..image.store import Store

    store = Store()
    if policy == "missing" and store.find(image) is not None:
        return
    from ..image.pull import pull
    from .pull import Progress

    sys.stderr.write(f"pulling {image}\n")
    pull(store.ensure(), image, progress=Progress(sys.stderr, sys.stderr.isatty()))


def main(argv: list[str]) -> int:
    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    after_dashes = "--" in argv and argv[argv.index("--") + 1:] == rest  # `-- CMD`: always a command
    if values["image"] is None and values["rootfs"] is None and rest and not after_dashes and _is_image(rest[0]):
        values["image"] = rest.pop(0)
    if values["image"] is not None:
        _pull_if_needed(values["image"], values.pop("pull") or "missing")
    opts = options_from(values, rest)
    if opts.detach:
        from ..runtime.detach import run_detached

        sys.stdout.write(run_detached(opts) + "\n")
        return 0
    from .foreground import run

    sys.stdout.flush()
    return run(opts)
