"""``nsbox-runc run [create's options] [--detach] ID``: create + start, then (without
``--detach``) wait for the container, pass it our signals, and delete it when
it exits; our exit status is its own (128+N if killed by signal N).

With process.terminal and no --console-socket the container's pty is
proxied to our own terminal (as ``runc run`` does for an interactive shell)."""

from __future__ import annotations

from . import create as C
from .opts import Opt, one_id, parse

OPTIONS = C.OPTIONS + [Opt("-d --detach", "detach", "bool", help="do not wait for the container")]


def main(name: str, argv: list[str]) -> int:
    v, pos = parse(name, "run [OPTIONS] ID", OPTIONS, argv)
    cid = one_id(name, pos)
    if v["detach"] and not v.get("console_socket"):
        pass  # a terminal then needs --console-socket: create() says so
    created = C.create(cid, v, detached=bool(v["detach"]) or bool(v.get("console_socket")))
    master = created.pty_master if not v.get("console_socket") else -1
    if master >= 0:
        created.pty_master = -1
    C.finish(created, v)
    from ..cli.foreground import Forwarder

    fg = Forwarder(early="keep")
    if not v["detach"]:
        fg.install()
    try:
        from .start import start

        try:
            start(cid)
        except BaseException:
            _delete(created.container)
            raise
        if v["detach"]:
            return 0
        fg.attach(created.pid)
        code = _wait(created.pid, master)
        fg.detach()
    finally:
        fg.restore()
    _delete(created.container)
    return code


def _wait(pid: int, master: int) -> int:
    from ..runtime.run import wait_exit

    if master >= 0:
        import os

        from ..cli.terminal import Terminal

        with Terminal(master) as term:
            term.pump(pid)
        os.close(master)
    return wait_exit(pid)


def _delete(c) -> None:
    from .delete import destroy

    destroy(c, force=True)
