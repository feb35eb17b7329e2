"""``nsbox images``: the local images (a table, ``--format json``, ``-q`` ids)."""

from __future__ import annotations

import sys

from .args import Command, Opt

COMMAND = Command("images", "images [OPTIONS] [REFERENCE]", "List the local images.", [
    Opt("--format", "format", help="table (default) or json", metavar="FORMAT"),
    Opt("-q --quiet", "quiet", "bool", "print only the image ids"),
    Opt("--no-trunc", "no_trunc", "bool", "full image ids"),
])


def human_size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{n} B"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"


def main(argv: list[str]) -> int:
    from ..errors import ConfigError
    from .storage import open_store, short_id

    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    store = open_store()
    images = store.images()
    if rest:
        img = store.find(rest[0])
        images = [img] if img is not None else []
    images.sort(key=lambda i: i.record.get("added", ""), reverse=True)
    fmt = values["format"] or "table"
    if fmt == "json":
        from .. import jsonio

        out = [{"Id": i.id, "Names": i.names, "Digests": i.record.get("digests", []),
                "Created": i.record.get("created", ""), "Size": i.record.get("size", 0),
                "Os": i.record.get("os", ""), "Architecture": i.record.get("architecture", "")} for i in images]
        sys.stdout.write(jsonio.dumps(out, indent=2) + "\n")
        return 0
    if fmt != "table":
        raise ConfigError(f"images --format `{fmt}`: expected table or json")
    ident = (lambda i: i.id) if values["no_trunc"] else (lambda i: short_id(i.id))
    if values["quiet"]:
        sys.stdout.write("".join(f"{ident(i)}\n" for i in images))
        return 0
    rows = [("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")]
    for i in images:
        created = i.record.get("created", "")[:19].replace("T", " ")
        for name in i.names or ["<none>:<none>"]:
            repo, _, tag = name.rpartition(":")
            rows.append((repo, tag, ident(i), created, human_size(int(i.record.get("size", 0)))))
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    for r in rows:
        sys.stdout.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")
    return 0
