"""``nsbox enter --target PID|NAME [NAMESPACES] [--host-tools] [--] [CMD...]`` (nsenter)."""

from __future__ import annotations

import os
import sys

from .args import Command, Opt, UsageError

FLAGS = (("-m --mount", "mnt", "the mount namespace (runs in the target's root and working directory)"),
         ("-u --uts", "uts", "the UTS namespace (hostname)"),
         ("-i --ipc", "ipc", "the IPC namespace"),
         ("-n --net", "net", "the network namespace"),
         ("-p --pid", "pid", "the PID namespace (the command is forked inside it)"),
         ("-C --cgroup", "cgroup", "the cgroup namespace"),
         ("-T --time", "time", "the time namespace"),
         ("-U --user", "user", "the user namespace (and become 0:0 in it)"))

COMMAND = Command(
    "enter", "enter -t PID|NAME [-m] [-u] [-i] [-n] [-p] [-C] [-T] [-U] [-a] [--host-tools] [--] [CMD...]",
    "Run CMD (default /bin/sh) in the namespaces of a container or of any process, like\n"
    "nsenter(1). With no namespace option, all of the target's namespaces are entered.",
    [Opt("-t --target", "target", help="the process: a PID or a container name/id", metavar="PID|NAME")]
    + [Opt(flags, kind, "bool", text) for flags, kind, text in FLAGS]
    + [Opt("-a --all", "all", "bool", "every namespace of the target that is not already ours"),
       Opt("--host-tools", "host_tools", "bool", "keep our mount namespace, enter the others: the "
           "host's binaries (ip, ss, tcpdump) run in the target's namespaces"),
       Opt("-w --wd", "wd", help="working directory for CMD (inside the target's root with --mount)",
           metavar="DIR"),
       Opt("--preserve-credentials", "preserve", "bool", "keep our uid/gid when entering a user namespace")],
    positionals=0)


def kinds_from(values: dict) -> list[str]:
    from ..inspect.target import NS_TYPES

    chosen = [kind for _flags, kind, _t in FLAGS if values[kind]]
    if values["all"] or not chosen:
        chosen = list(NS_TYPES)
    if values["host_tools"]:
        if values["mnt"]:
            raise UsageError("enter: --host-tools keeps the host's mount namespace: drop --mount")
        chosen = [k for k in chosen if k != "mnt"]
    return chosen


def main(argv: list[str]) -> int:
    values, command = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if not values["target"]:
        raise UsageError("enter: --target PID|NAME is needed (see nsbox enter --help)")
    kinds = kinds_from(values)
    from ..inspect import nsenter
    from ..inspect.target import resolve

    ref = str(values["target"])
    target = resolve(ref, "enter --target")
    from ..kernel.errors import KernelError, wrap

    try:
        p = nsenter.plan(target.pid, kinds, command or ["/bin/sh"], host_tools=values["host_tools"],
                         workdir=values["wd"], preserve_credentials=values["preserve"])
    except KernelError as e:
        raise wrap(e, f"enter --target `{ref}`") from None
    sys.stdout.flush()
    sys.stderr.flush()
    return _run(nsenter, p)


def _run(nsenter, p) -> int:  # noqa: ANN001
    """Start the command, forward our signals to it, return its exit status."""
    import _signal

    pid = nsenter.spawn(p)
    saved = {}

    def forward(sig: int, _frame: object) -> None:
        try:
            os.kill(pid, sig)  # our unreaped child: the pid cannot be reused
        except OSError:
            pass

    forwarded, ignored = nsenter.forwarded_signals()
    try:
        for name in forwarded + ignored:
            sig = getattr(_signal, name)
            saved[sig] = _signal.signal(sig, forward if name in forwarded else _signal.SIG_IGN)
        return nsenter.wait(pid)
    finally:
        for sig, old in saved.items():
            _signal.signal(sig, old)
