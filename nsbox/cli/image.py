"""``nsbox image inspect|prune|ls|rm|tag|pull|load|save``."""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

SUBCOMMANDS = {"ls": "images", "list": "images", "rm": "rmi", "tag": "tag", "pull": "pull", "load": "load",
               "save": "save"}
USAGE = """usage: nsbox image COMMAND ...

  inspect IMAGE...   show images as JSON (config, layers, names, digests)
  prune [-a]         remove unnamed images no container uses (-a: every unused image), and leftovers
  ls, rm, tag, pull, load, save   as nsbox images, rmi, tag, pull, load, save
"""
INSPECT = Command("image inspect", "image inspect IMAGE...", "Show images as JSON.", [])
PRUNE = Command("image prune", "image prune [-a]", "Remove unnamed images no container uses, and "
                "blobs, layers and partial downloads no image references.", [
                    Opt("-a --all", "all", "bool", "remove every image no container uses")])


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(USAGE)
        return 0 if argv else 2
    sub, rest = argv[0], argv[1:]
    if sub in SUBCOMMANDS:
        name = f"nsbox.cli.{SUBCOMMANDS[sub]}"
        __import__(name)
        return int(sys.modules[name].main(rest) or 0)
    if sub == "inspect":
        return inspect(rest)
    if sub == "prune":
        return prune(rest)
    raise UsageError(f"image: unknown command `{sub}` (see nsbox image --help)")


def inspect(argv: list[str]) -> int:
    from .. import jsonio
    from ..image.manifest import parse_json
    from .storage import open_store

    values, rest = INSPECT.parse(argv)
    if values["help"] or not rest:
        sys.stdout.write(INSPECT.help_text() + "\n")
        return 0 if values["help"] else 2
    store = open_store()
    out = []
    for ref in rest:
        img = store.lookup(ref)
        cfg = parse_json(store.read_blob(img.record["config"]), f"image `{ref}`: config")
        out.append({"Id": img.id, "Digest": img.record["manifest"], "RepoTags": img.names,
                    "RepoDigests": img.record.get("digests", []), "Created": cfg.get("created", ""),
                    "Os": cfg.get("os", ""), "Architecture": cfg.get("architecture", ""),
                    "Config": cfg.get("config") or {}, "RootFS": cfg.get("rootfs") or {},
                    "Size": img.record.get("size", 0),
                    "Layers": [{"Digest": x["digest"], "DiffID": x["diffID"], "Size": x["size"],
                                "MediaType": x["mediaType"], "Path": store.layer_path(x["diffID"])}
                               for x in img.layers]})
    sys.stdout.write(jsonio.dumps(out, indent=2) + "\n")
    return 0


def prune(argv: list[str]) -> int:
    from ..image.use import in_use, layers_in_use
    from .storage import open_store

    values, rest = PRUNE.parse(argv)
    if values["help"]:
        sys.stdout.write(PRUNE.help_text() + "\n")
        return 0
    if rest:
        raise UsageError("image prune: takes no arguments")
    store = open_store().ensure()
    used = in_use()
    keep = layers_in_use(store)
    for img in store.images():
        if img.id in used or (img.names and not values["all"]):
            continue
        store.remove(img.id, keep)
        sys.stdout.write(f"{img.id}\n")
    removed = store.sweep(keep)
    n = store.collect_tmp()
    if removed or n:
        sys.stderr.write(f"nsbox: removed {len(removed)} unreferenced blobs/layers, {n} leftovers\n")
    return 0
