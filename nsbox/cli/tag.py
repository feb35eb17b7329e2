"""``nsbox tag IMAGE NAME...``: more names for an image."""

from __future__ import annotations

import sys

from .args import Command, UsageError

COMMAND = Command("tag", "tag IMAGE NAME...", "Add names to an image (a short name is localhost/NAME).", [])


def main(argv: list[str]) -> int:
    from .storage import open_store

    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if len(rest) < 2:
        raise UsageError("tag: nsbox tag IMAGE NAME...")
    store = open_store()
    for name in rest[1:]:
        store.tag(rest[0], name)
    return 0
