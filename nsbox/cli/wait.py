"""``nsbox wait NAME...``: block until containers exit; print each exit code.

The exit status of the command is the (last) container's exit code, so that
``nsbox wait NAME; echo $?`` works as well as reading the printed code."""

from __future__ import annotations

import sys

from .args import Command

COMMAND = Command("wait", "wait NAME...", "Wait for containers to exit; print their exit codes "
                  "(and exit with the last one).", [])


def main(argv: list[str]) -> int:
    values, names = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    from ..errors import NsboxError
    from ..runtime.control import wait
    from .main import err
    from .targets import need_names, store

    need_names(names, "wait")
    s = store()
    last = 0
    for name in names:
        try:
            last = wait(s, name)
        except (NsboxError, OSError) as e:
            err(str(e))
            last = 1 if last == 0 else last
            continue
        sys.stdout.write(f"{last}\n")
        sys.stdout.flush()
    return last
