"""Start a pool's server: a fresh interpreter (``python -I -c ...server.main``),
never a fork of the caller (which may have threads), in a session of its own
(the terminal's Ctrl-C is the caller's), holding one end of a SOCK_SEQPACKET
socketpair: the control socket.  It dies with the caller: parent-death signal
when started from the main thread (PR_SET_PDEATHSIG follows the starting
thread), EOF on the control socket always."""

from __future__ import annotations

import os
import sys
import threading

from ..errors import Error
from . import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    import subprocess

    from ..specgen.options import RunOptions


def _fields(opts: RunOptions) -> dict:
    base = type(opts)()
    return {k: getattr(opts, k) for k in type(opts).__annotations__ if getattr(opts, k) != getattr(base, k)}


def start(opts: RunOptions, size: int, warm: int | None, root: str) -> tuple[_socket.socket, subprocess.Popen, dict]:
    import subprocess

    ours, theirs = wire.socketpair()
    # The interpreter isolated from the caller's PYTHON* variables (-I), importing
    # this very nsbox; only PATH passes (newuidmap is looked up on it).
    pkg_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    boot = f"import sys; sys.path.insert(0, {pkg_parent!r}); from nsbox.pool.server import main; main(sys.argv)"
    env = {"PATH": os.environ.get("PATH") or "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG": "C.UTF-8"}
    main_thread = threading.current_thread() is threading.main_thread()
    exe = sys.executable or "/usr/bin/python3"
    try:
        proc = subprocess.Popen(
            [exe, "-I", "-c", boot, str(theirs.fileno()), str(os.getpid()), "1" if main_thread else "0"],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, env=env, cwd="/")
    except OSError as e:
        ours.close()
        raise Error(f"pool: start the server `{exe}`: {e.strerror}") from None
    finally:
        theirs.close()
    return ours, proc, handshake(ours, proc, opts, size, warm, root)


def handshake(ours: _socket.socket, proc: subprocess.Popen, opts: RunOptions, size: int, warm: int | None,
              root: str) -> dict:
    """Send the configuration; the server's "started" (or its error, raised here)."""
    from .. import defaults

    pool_id = "pool-" + os.urandom(8).hex()
    try:
        wire.send(ours, {"type": "config", "id": pool_id, "size": size, "warm": warm, "root": root,
                         "settings": {"cgroup_parent": defaults.cgroup_parent, "storage": defaults.storage,
                                      "network_dir": defaults.network_dir},
                         "options": _fields(opts)})
        msg, _ = wire.recv(ours)
    except OSError:
        msg = None
    if msg is not None and msg.get("type") == "started":
        return msg
    ours.close()
    proc.wait()
    if msg is not None and msg.get("type") == "error":
        from ..api.options import relabel_text

        wire.raise_error(dict(msg, msg=relabel_text(msg.get("msg") or "")))  # keywords, not flags
    raise Error(f"pool: the server exited while starting (status {proc.returncode})")
