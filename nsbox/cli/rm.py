"""``nsbox rm [-f] NAME...``: remove stopped containers (-f: running ones too)."""

from __future__ import annotations

import sys

from .args import Command, Opt

COMMAND = Command("rm", "rm [-f] NAME...", "Remove containers; a running one only with -f (killed first).",
                  [Opt("-f --force", "force", "bool", "kill a running container (SIGKILL), then remove it")])


def main(argv: list[str]) -> int:
    values, names = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    from ..runtime.control import remove
    from .targets import for_each, need_names, store

    need_names(names, "rm")
    s = store()
    return for_each(names, lambda n: remove(s, n, values["force"]))
