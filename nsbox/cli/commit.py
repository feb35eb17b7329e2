"""``nsbox commit CONTAINER [NAME]`` and ``nsbox export CONTAINER``: a container's changes
(its overlay upper directory) as a new image's top layer, or as a layer tar file."""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

COMMIT = Command("commit", "commit CONTAINER [NAME]", "Make an image of a container run from an image: "
                 "its changes become the top layer (whiteouts included).", [
                     Opt("-m --message", "message", help="the history entry of the new layer", metavar="TEXT"),
                 ])
EXPORT = Command("export", "export -o FILE CONTAINER", "Write a container's changes (its upper directory, "
                 "whiteouts as .wh. entries) as a layer tar.", [
                     Opt("-o --output", "output", help="the file (default: stdout, if not a terminal)",
                         metavar="FILE")])


def _container(ref: str):
    from .. import jsonio
    from ..image.commit import container_layer
    from .targets import store

    c = store().lookup(ref)
    state = c.read()
    if not state.get("image"):
        from ..errors import ConfigError

        raise ConfigError(f"`{ref}`: not run from an image (commit/export need an image's container)")
    upper, uids, gids, points = container_layer(c.path, jsonio.load_file(f"{c.path}/config.json"))
    return state, upper, uids, gids, points


def main(argv: list[str]) -> int:
    from ..image import refs
    from ..image.commit import commit
    from .storage import open_store

    values, rest = COMMIT.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMIT.help_text() + "\n")
        return 0
    if len(rest) not in (1, 2):
        raise UsageError("commit: nsbox commit CONTAINER [NAME]")
    names = [str(refs.parse(rest[1]).qualified("localhost"))] if len(rest) == 2 else []
    state, upper, uids, gids, points = _container(rest[0])
    img = commit(open_store(), state["image"], upper, uids, gids, names,
                 values["message"] or f"nsbox commit {rest[0]}", points)
    sys.stdout.write(img.id + "\n")
    return 0


def export_main(argv: list[str]) -> int:
    from ..image.commit import export

    values, rest = EXPORT.parse(argv)
    if values["help"]:
        sys.stdout.write(EXPORT.help_text() + "\n")
        return 0
    if len(rest) != 1:
        raise UsageError("export: nsbox export -o FILE CONTAINER")
    _state, upper, uids, gids, points = _container(rest[0])
    if values["output"]:
        import os

        tmp = f"{values['output']}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as f:
                export(upper, f, uids, gids, points)
            os.rename(tmp, values["output"])
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return 0
    if sys.stdout.isatty():
        raise UsageError("export: refusing to write a tar to a terminal (-o FILE, or redirect stdout)")
    sys.stdout.flush()
    export(upper, sys.stdout.buffer, uids, gids, points)
    return 0
