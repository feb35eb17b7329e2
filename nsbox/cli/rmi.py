"""``nsbox rmi [-f] IMAGE...``: untag or remove images (refused while a container uses one)."""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

COMMAND = Command("rmi", "rmi [-f] IMAGE...", "Remove images: a name given is removed from its image, and "
                  "the image itself once it has no name left (an id removes it whatever its names).", [
                      Opt("-f --force", "force", "bool", "remove even if containers use it, and all its names"),
                  ])


def main(argv: list[str]) -> int:
    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if not rest:
        raise UsageError("rmi: give at least one image")
    return remove_images(rest, values["force"])


def remove_images(names: list[str], force: bool) -> int:
    from ..errors import Conflict, NsboxError
    from ..image import refs
    from ..image.use import in_use, layers_in_use
    from .storage import open_store

    store = open_store()
    used = in_use()
    keep = layers_in_use(store)
    failed = 0
    for ref in names:
        try:
            img = store.lookup(ref)
            name = _name_of(img, ref, refs)
            if name is not None and len(img.names) > 1 and not force:
                store.untag(img.id, name)
                sys.stdout.write(f"Untagged: {name}\n")
                continue
            users = used.get(img.id)
            if users and not force:
                raise Conflict(f"rmi `{ref}`: image is in use by container(s) {', '.join(users)} "
                               "(remove them, or -f)")
            for n in img.names:
                sys.stdout.write(f"Untagged: {n}\n")
            store.remove(img.id, keep)
            sys.stdout.write(f"Deleted: {img.id}\n")
        except NsboxError as e:
            sys.stderr.write(f"nsbox: {e}\n")
            failed = 1
    return failed


def _name_of(img, ref: str, refs) -> str | None:
    """The image's name that ``ref`` designates (None when ``ref`` is an id)."""
    try:
        parsed = refs.parse(ref)
    except Exception:  # noqa: BLE001
        return None
    for cand in refs.local_candidates(parsed):
        if cand in img.names:
            return cand
    return None
