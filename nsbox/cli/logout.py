"""``nsbox logout REGISTRY``: remove stored credentials (see login.py)."""

from __future__ import annotations

from . import login


def main(argv: list[str]) -> int:
    return login.main(argv, logout=True)
