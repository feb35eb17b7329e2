"""``nsbox kill [-s SIGNAL] NAME...``: send a signal (default SIGKILL) to containers' init."""

from __future__ import annotations

import sys

from .args import Command, Opt

COMMAND = Command("kill", "kill [-s SIGNAL] NAME...",
                  "Send a signal to the init process of running containers.",
                  [Opt("-s --signal", "signal", help="signal name or number (default KILL)", metavar="SIGNAL")])


def main(argv: list[str]) -> int:
    values, names = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    from ..runtime.control import kill, parse_signal
    from .targets import for_each, need_names, store

    need_names(names, "kill")
    sig = parse_signal(values["signal"] or "KILL")
    s = store()
    return for_each(names, lambda n: kill(s, n, sig))
