"""``nsbox stop [-t SECONDS] NAME...``: SIGTERM, then SIGKILL after the timeout."""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

COMMAND = Command("stop", "stop [-t SECONDS] NAME...",
                  "Stop running containers: SIGTERM to their init, SIGKILL after the timeout.",
                  [Opt("-t --time --timeout", "time", help="seconds to wait before SIGKILL (default 10)",
                       metavar="SECONDS")])


def main(argv: list[str]) -> int:
    values, names = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    from .targets import for_each, need_names, store

    need_names(names, "stop")
    timeout = 10.0
    if values["time"] is not None:
        try:
            timeout = float(values["time"])
        except ValueError:
            timeout = -1
        if not timeout >= 0:
            raise UsageError(f"stop: -t `{values['time']}`: expected a number of seconds >= 0")
    from ..runtime.control import stop

    s = store()
    return for_each(names, lambda n: stop(s, n, timeout))
