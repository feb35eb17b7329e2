"""``nsbox-runc list [--format table|json] [-q]``: the containers under --root."""

from __future__ import annotations

import sys

from .opts import Opt, parse

OPTIONS = [Opt("-f --format", "format", default="table", help="table or json"),
           Opt("-q --quiet", "quiet", "bool", help="only the ids")]


def main(name: str, argv: list[str]) -> int:
    from .. import jsonio
    from ..errors import NotFound
    from .opts import UsageError
    from .store import lookup, oci_state, store

    v, pos = parse(name, "list [--format table|json] [-q]", OPTIONS, argv)
    if pos:
        raise UsageError(f"{name}: unexpected argument `{pos[0]}`")
    if v["format"] not in ("table", "json"):
        raise UsageError(f"{name}: --format `{v['format']}`: must be table or json")
    st = store()
    states = []
    for cid in st.ids():
        if cid.startswith("."):
            continue
        try:
            states.append(oci_state(lookup(st, cid)))
        except (NotFound, OSError):
            continue  # removed meanwhile
    if v["quiet"]:
        sys.stdout.write("".join(s["id"] + "\n" for s in states))
    elif v["format"] == "json":
        sys.stdout.write(jsonio.dumps(states) + "\n")
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"]) for s in states]
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for r in rows:
            sys.stdout.write("   ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() + "\n")
    return 0
