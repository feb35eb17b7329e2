"""The parent <-> child protocol over a SOCK_SEQPACKET socketpair.

Messages are small dicts; they are encoded with :mod:`marshal` (both ends are
this same program, and ``import json`` would cost 15 ms of start-up).  File
descriptors travel as SCM_RIGHTS, as in runc's ``sync.go``.  Errors cross as
data: ``{"type": "error", "errno": 1, "msg": "mount `proc` to `/proc`"}``.

    Rootful with nothing to join ("direct", create._fork_direct):
    main (nsbox)                           init (PID 1)
    ------------                           ------------
    clone3(CLONE_NEW*, CLONE_INTO_CGROUP)  pdeathsig; in its namespaces and its
      ------------------------------------>  cgroup2 cgroup from birth
    config.json, pid, /run/netns           rootfs steps; at the first cgroup mount:
      (while init works)                     "0" > v1 tasks (joins itself),
                                             unshare(CLONE_NEWCGROUP)

    Otherwise (a user namespace, or namespaces to join by path):
    main (nsbox)                           intermediate (stage 1)
    ------------                           ----------------------
    fork ------------------------------->  pdeathsig; setns(joined namespaces)
                                           unshare(CLONE_NEWUSER) if new
                                   <-----  {"type": "stage1"}        (new userns only)
    uid_map/gid_map (or newuidmap)
    {"type": "stage1_ack"}  ------------>  setresuid(0); unshare(the rest)
                                           write timens_offsets; fork init
                                   <-----  {"type": "init_pid", "pid": N}
    waitpid(intermediate)                  exit(0)
    (init is our child: CLONE_PARENT)      init (stage 2, PID 1)
    {"type": "reparented"} ------------->  pdeathsig(SIGKILL); rootfs steps
    cgroup.procs <- init
    {"type": "cgroup"} ----------------->  (at the first cgroup mount) unshare(CLONE_NEWCGROUP)

    Both, then:
                                           pivot_root, hostname, lo up, masks,
                                           user, caps
                                   <-----  {"type": "pty"} + master fd (if terminal)
                                   <-----  {"type": "ready", "ns": [...]} + init's
                                           net/user ns fds (rootless pasta/slirp4netns)
    network set-up (before_start)
    state "created"
    open exec.fifo for reading ----------  (init blocked opening it for writing)
                                           nnp, seccomp, Landlock;
                                           execve(args): socket closes (CLOEXEC)
    EOF on the socket = exec succeeded;    {"type": "error", ...} = it failed
    (a foreground run reads it after the container exits: create.exec_error)
"""

from __future__ import annotations

import _socket
import marshal
import os
import struct

from ..errors import ExecError, NsboxError
from ..kernel.errors import KernelError

MAX_MSG = 65536
MAX_FDS = 4


class ProtocolError(NsboxError):
    pass


def socketpair() -> tuple[_socket.socket, _socket.socket]:
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC, 0)
    return a, b


def send(sock: _socket.socket, msg: dict, fds: tuple[int, ...] = ()) -> None:
    data = marshal.dumps(msg)
    if fds:
        anc = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))]
        sock.sendmsg([data], anc)
    else:
        sock.send(data)


def recv(sock: _socket.socket) -> tuple[dict | None, list[int]]:
    """One message and the fds that came with it; (None, []) at EOF."""
    data, anc, _flags, _addr = sock.recvmsg(MAX_MSG, _socket.CMSG_SPACE(MAX_FDS * 4))
    fds: list[int] = []
    for level, kind, payload in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            n = len(payload) // 4
            fds.extend(struct.unpack(f"{n}i", payload[: n * 4]))
    for fd in fds:
        os.set_inheritable(fd, False)
    if not data:
        return None, fds
    return marshal.loads(data), fds


def send_error(sock: _socket.socket, err: BaseException) -> None:
    """Report an exception to the parent as data; never raises."""
    if isinstance(err, ExecError):
        msg = {"type": "error", "errno": 0, "msg": str(err), "exit": err.exit_code}
    elif isinstance(err, KernelError):
        msg = {"type": "error", "errno": err.errno or 0, "msg": err.op, "hint": err.hint}
    elif isinstance(err, OSError):
        where = f"container set-up at `{err.filename}`" if err.filename else "container set-up"
        msg = {"type": "error", "errno": err.errno or 0, "msg": where}
    else:
        msg = {"type": "error", "errno": 0, "msg": str(err) or type(err).__name__}
    try:
        send(sock, msg)
    except OSError:
        pass


def raise_error(msg: dict) -> None:
    """Raise the exception a child reported."""
    if "exit" in msg:
        raise ExecError(msg["msg"], msg["exit"])
    if msg.get("errno"):
        raise KernelError(msg["errno"], msg["msg"], None, msg.get("hint"))
    raise NsboxError(msg.get("msg") or "container set-up failed")


def expect(sock: _socket.socket, kind: str, what: str) -> tuple[dict, list[int]]:
    """Receive a message of type ``kind``; raise the child's error or a protocol error."""
    msg, fds = recv(sock)
    if msg is None:
        raise ProtocolError(f"{what}: the container process exited before reporting")
    if msg.get("type") == "error":
        for fd in fds:
            os.close(fd)
        raise_error(msg)
    if msg.get("type") != kind:
        raise ProtocolError(f"{what}: expected {kind!r}, got {msg.get('type')!r}")
    return msg, fds
