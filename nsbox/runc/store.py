"""nsbox-runc's state: one directory per container under ``--root``, and the
status the OCI lifecycle (runtime.md "State") derives from it.

``<root>/containers/<id>/`` is nsbox's container directory (runtime/state.py:
state.json written by rename, ``lock`` serialising commands, ``owner.lock``
held by the creating process while it creates, ``exec.fifo`` until start).
Unlike ``nsbox run`` nothing supervises the container after ``create``
returns (its caller, conmon or a containerd shim, reaps it), so the status
is read from the process itself:

- ``creating``: state.json says so and the creating process holds owner.lock;
  a creator that died (SIGKILL) left a ``stopped`` container to ``delete``;
- ``created``: init alive (pid and start time) and its exec fifo still there;
- ``running``: init alive, the fifo gone (``start`` removed it);
- ``paused``: ``pause`` recorded it and the freezer is still frozen (runc's extension);
- ``stopped``: init gone (a zombie counts as gone).
"""

from __future__ import annotations

import os

from ..errors import Conflict, NotFound
from ..runtime import state as S


def rootless() -> bool:
    """Unprivileged: not root, or root of a user namespace that is not the host's
    (rootless Podman runs its runtime so, as runc detects it)."""
    if os.geteuid() != 0:
        return True
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def default_root() -> str:
    if not rootless():
        return "/run/nsbox-runc"
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and S._owned_dir(xdg):
        return f"{xdg}/nsbox-runc"
    return S.tmp_root("nsbox-runc")


def store() -> S.Store:
    from .main import G

    return S.Store(G.root or default_root())


def lookup(st: S.Store, cid: str) -> S.Container:
    """A container by its exact id (runc has no names and no prefixes)."""
    if not cid:
        raise NotFound("no container id given")
    if "/" in cid or cid.startswith(".") or not os.path.isdir(f"{st.containers_dir}/{cid}"):
        raise NotFound(f"container `{cid}` does not exist")
    return S.Container(st, cid, f"{st.containers_dir}/{cid}")


def status(c: S.Container) -> str:
    st = c.state
    recorded = st.get("status", S.CREATING)
    if recorded == S.CREATING:
        return S.CREATING if c.owner_alive() else S.STOPPED
    if recorded == S.STOPPED:
        return S.STOPPED
    from ..procfs import alive

    if not alive(st.get("pid", 0), st.get("pidStart")):
        return S.STOPPED
    if recorded == S.PAUSED and frozen(c):  # (pause and resume record it)
        return S.PAUSED
    if recorded != S.RUNNING and os.path.lexists(c.fifo):  # start removes it before it records "running"
        return S.CREATED
    return S.RUNNING


def cgroup_path(c: S.Container) -> str | None:
    for r in c.state.get("resources", []):
        if r.get("kind") == "cgroup":
            return r.get("path")
    return None


def frozen(c: S.Container) -> bool:
    from .freezer import is_frozen

    path = cgroup_path(c)
    return path is not None and is_frozen(path)


def oci_state(c: S.Container) -> dict:
    """The state of runtime.md, plus runc's extra fields (rootfs, created, owner)."""
    st = c.state
    now = status(c)
    out = {"ociVersion": st.get("ociVersion"), "id": c.id, "pid": st.get("pid", 0) if now != S.STOPPED else 0,
           "status": now, "bundle": st.get("bundle", ""), "rootfs": st.get("rootfs", ""),
           "created": st.get("created", ""), "owner": st.get("ownerName", "")}
    out["annotations"] = st.get("annotations") or {}
    return out


def hook_state(c: S.Container, status_: str | None = None, pid: int | None = None) -> dict:
    """The state passed to hooks on stdin (runtime.md "State")."""
    st = c.state
    out = {"ociVersion": st.get("ociVersion"), "id": c.id, "status": status_ or status(c),
           "pid": st.get("pid", 0) if pid is None else pid, "bundle": st.get("bundle", "")}
    out["annotations"] = st.get("annotations") or {}
    return out


def need(c: S.Container, op: str, *allowed: str) -> str:
    """The container's status if it is one of ``allowed``; else the error runtime.md asks for."""
    now = status(c)
    if now not in allowed:
        raise Conflict(f"{op} `{c.id}`: container is {now}, not {' or '.join(allowed)}")
    return now
