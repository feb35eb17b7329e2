"""Caller <-> server messages: runtime.sync's framing (marshal over SOCK_SEQPACKET,
fds as SCM_RIGHTS), plus errors that keep their class across the boundary.

    caller (Pool)                           server (zygote)
    -------------                           ---------------
    spawn `python -m nsbox.pool.server`
    {"type": "config", ...}  ------------>  state dir, cgroups, template, namespaces,
                                            the first warm sandbox
                             <------------  {"type": "started", "limits", "warnings"}
                                            (or {"type": "error", ...})
    per run: socketpair (R, S)
    {"type": "run", args, env, cwd,
      timeout, limits, stdio}
      + S and the run's pipes  ---------->  a ready sandbox gets the pipes ("go");
                                            S is kept, the pipes are closed
    (R: EOF from us = cancel the run)
                             <------ on S:  {"type": "result", status, cpu, peak,
                                            wall, timed_out, oom}  or an error
    close the control socket  ----------->  EOF: kill every sandbox, remove the
                                            cgroups and the state dir, exit
    EOF on R or on the control socket = the server died: PoolClosed
"""

from __future__ import annotations

import _socket
import marshal
import struct

from ..errors import ConfigError, Error, ExecError
from ..kernel.errors import KernelError
from ..runtime.sync import recv as recv  # the framing, re-exported
from ..runtime.sync import socketpair as socketpair

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MSG_NOSIGNAL = 0x4000  # a dead peer is EPIPE, never SIGPIPE, in the caller's process


def send(sock: _socket.socket, msg: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
    """runtime.sync.send, without SIGPIPE."""
    anc = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))] if fds else []
    sock.sendmsg([marshal.dumps(msg)], anc, MSG_NOSIGNAL)


def error_message(err: BaseException) -> dict[str, Any]:
    if isinstance(err, ExecError):
        return {"type": "error", "kind": "exec", "msg": str(err), "exit": err.exit_code}
    if isinstance(err, ConfigError):
        return {"type": "error", "kind": "config", "msg": str(err)}
    if isinstance(err, KernelError):
        return {"type": "error", "kind": "kernel", "msg": err.op, "errno": err.errno or 0,
                "hint": getattr(err, "hint", None)}
    if isinstance(err, OSError):
        return {"type": "error", "kind": "kernel", "msg": f"pool server: {err.strerror}",
                "errno": err.errno or 0}
    return {"type": "error", "kind": "error", "msg": str(err) or type(err).__name__}


def from_sandbox(msg: dict[str, Any]) -> dict[str, Any]:
    """A sandbox's error (runtime.sync.send_error's form) in ours."""
    if "exit" in msg:
        return {"type": "error", "kind": "exec", "msg": msg["msg"], "exit": msg["exit"]}
    if msg.get("errno"):
        return {"type": "error", "kind": "kernel", "msg": msg["msg"], "errno": msg["errno"],
                "hint": msg.get("hint")}
    return {"type": "error", "kind": "error", "msg": msg.get("msg") or "sandbox set-up failed"}


def raise_error(msg: dict[str, Any]) -> None:
    kind = msg.get("kind")
    if kind == "exec":
        raise ExecError(msg["msg"], msg.get("exit", 127))
    if kind == "config":
        raise ConfigError(msg["msg"])
    if kind == "kernel":
        raise KernelError(msg.get("errno") or 0, msg["msg"], None, msg.get("hint"))
    raise Error(msg.get("msg") or "pool server failed")
