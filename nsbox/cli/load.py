"""``nsbox load -i FILE|DIR``: images from a docker-archive, oci-archive or OCI layout directory."""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

COMMAND = Command("load", "load [-i FILE|DIR]", "Load images from a docker-archive or oci-archive tar file "
                  "(docker save, podman save, skopeo copy) or an OCI image layout directory; without -i, the "
                  "archive is read from stdin.", [
                      Opt("-i --input", "input", help="the archive or directory", metavar="FILE|DIR"),
                      Opt("--platform", "platform", help="from a multi-platform index, load this one "
                          "(default: the host's)", metavar="OS/ARCH[/VARIANT]"),
                      Opt("-q --quiet", "quiet", "bool", "print only the image ids")])


def main(argv: list[str]) -> int:
    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    path = values["input"] or (rest[0] if len(rest) == 1 else None)
    if (values["input"] and rest) or len(rest) > 1 or (not path and sys.stdin.isatty()):
        raise UsageError("load: give one archive or directory: nsbox load -i FILE|DIR (or the archive on stdin)")
    from ..image.archive import load
    from .storage import open_store

    store = open_store().ensure()
    store.collect_tmp()
    spool = None
    if not path:  # stdin: spooled into the store's tmp/ (a tar needs seeking)
        spool = store.temp()
        with open(spool.fd, "wb", closefd=False) as f:
            while chunk := sys.stdin.buffer.read(1 << 20):
                f.write(chunk)
        path = spool.path
    try:
        loaded = load(store, path, values["platform"], "stdin" if spool is not None else None)
    finally:
        if spool is not None:
            spool.close()
    for img, notes in loaded:
        for note in notes:
            sys.stderr.write(f"nsbox: note: {note}\n")
        if values["quiet"]:
            sys.stdout.write(img.id + "\n")
        else:
            for name in img.names or [img.id]:
                sys.stdout.write(f"Loaded image: {name}\n")
    return 0
