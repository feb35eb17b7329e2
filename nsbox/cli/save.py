"""``nsbox save -o FILE IMAGE...``: images as an oci-archive (or an OCI layout directory)."""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

COMMAND = Command("save", "save [--format oci-archive|docker-archive|oci-dir] -o PATH IMAGE...",
                  "Write images as an oci-archive tar file (default), a docker-archive (docker load reads "
                  "it) or an OCI image layout directory.", [
                      Opt("-o --output", "output", help="the file or directory to write", metavar="PATH"),
                      Opt("--format", "format", help="oci-archive (default), docker-archive or oci-dir",
                          metavar="FORMAT"),
                  ])


def main(argv: list[str]) -> int:
    from ..image import refs
    from ..image.archive import save
    from .storage import open_store

    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if not rest:
        raise UsageError("save: nsbox save [-o PATH] IMAGE...")
    fmt = values["format"] or "oci-archive"
    to_stdout = values["output"] in (None, "-")
    if to_stdout and (fmt == "oci-dir" or sys.stdout.isatty()):
        raise UsageError("save: -o PATH needed (stdout is a terminal, or --format oci-dir)")
    store = open_store()
    images = []
    for ref in rest:
        img = store.lookup(ref)
        name = None
        if refs.looks_like_reference(ref):
            cands = refs.local_candidates(refs.parse(ref))
            name = next((c for c in cands if c in img.names), None)
        images.append((img, name or (img.names[0] if img.names else None)))
    if not to_stdout:
        save(store, images, values["output"], fmt)
        return 0
    t = store.temp()  # written whole, then copied: a failed save sends nothing half-made
    try:
        save(store, images, t.path + ".tar", fmt)
        import shutil

        with open(t.path + ".tar", "rb") as f:
            sys.stdout.flush()
            shutil.copyfileobj(f, sys.stdout.buffer, 1 << 20)
    finally:
        try:
            import os

            os.unlink(t.path + ".tar")
        except OSError:
            pass
        t.close()
    return 0
