"""``nsbox exec [OPTIONS] NAME CMD [ARGS...]``: run a command in a running container."""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

OPTIONS = [
    Opt("-i --interactive", "interactive", "bool", "pass our stdin (default: /dev/null)"),
    Opt("-t --tty", "tty", "bool", "give the command a terminal (a pty in the container's devpts)"),
    Opt("-e --env", "env", "list", "set an environment variable (KEY=VALUE, or KEY to pass ours)",
        "KEY=VALUE"),
    Opt("--env-file", "env_file", "list", "read KEY=VALUE lines from a file", "FILE"),
    Opt("-w --workdir", "workdir", help="working directory inside (default: the container's)", metavar="DIR"),
    Opt("-u --user", "user", help="user inside: UID[:GID] or NAME[:GROUP] (default: the container's)",
        metavar="USER"),
    Opt("-d --detach", "detach", "bool", "run in the background; do not wait for the command"),
]

COMMAND = Command("exec", "exec [OPTIONS] NAME CMD [ARGS...]",
                  "Run CMD in every namespace of a running container; exit with its status.",
                  OPTIONS, positionals=1)


def main(argv: list[str]) -> int:
    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if len(rest) < 2:
        raise UsageError("exec: expected a container and a command: nsbox exec [OPTIONS] NAME CMD [ARGS...]")
    from ..specgen.options import ExecOptions

    fields = {f.name for f in ExecOptions._table()}
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in fields}
    opts = ExecOptions(container=rest[0], command=tuple(rest[1:]), **kw)
    from .foreground import exec_

    sys.stdout.flush()
    return exec_(opts)
