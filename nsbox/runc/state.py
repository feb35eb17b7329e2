"""``nsbox-runc state ID``: the container's state as JSON (runtime.md "Query State")."""

from __future__ import annotations

import sys

from .opts import one_id, parse


def main(name: str, argv: list[str]) -> int:
    from .. import jsonio
    from .store import lookup, oci_state, store

    _v, pos = parse(name, "state ID", [], argv)
    c = lookup(store(), one_id(name, pos))
    sys.stdout.write(jsonio.dumps(oci_state(c), indent=2) + "\n")
    return 0
