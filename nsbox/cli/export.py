"""``nsbox export``: see commit.py."""

from __future__ import annotations

from .commit import export_main


def main(argv: list[str]) -> int:
    return export_main(argv)
