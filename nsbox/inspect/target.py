"""Who is being looked at: a container (by name or id) or any PID on the machine,
and what "the host" is for comparisons (PID 1's namespaces).
"""

from __future__ import annotations

import os

from .. import procfs
from ..errors import ContainerNotFound, NsboxError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime.state import Container, Store

# /proc/PID/ns link names in lsns(8)'s order.
NS_TYPES = ("mnt", "net", "pid", "uts", "ipc", "user", "cgroup", "time")
# Accepted spellings of a namespace type (lsns's and the OCI spec's).
TYPE_ALIASES = {"mnt": "mnt", "mount": "mnt", "net": "net", "network": "net", "pid": "pid",
                "uts": "uts", "ipc": "ipc", "user": "user", "cgroup": "cgroup", "time": "time"}


class Target:
    """A process to inspect; ``container`` is set when nsbox knows it."""

    def __init__(self, pid: int, ref: str, container: Container | None = None,
                 state: dict | None = None) -> None:
        self.pid = pid
        self.ref = ref
        self.container = container
        self.state = state or {}

    @property
    def name(self) -> str | None:
        return self.state.get("name") if self.container else None

    @property
    def label(self) -> str:
        if self.container is None:
            return str(self.pid)
        return self.state.get("name") or self.container.id[:12]

    @property
    def running(self) -> bool:
        return self.pid > 0 and procfs.alive(self.pid)


def ns_type(value: str, op: str) -> str:
    t = TYPE_ALIASES.get(value.strip().lower())
    if t is None:
        raise NsboxError(f"{op} `{value}`: unknown namespace type (one of: {', '.join(NS_TYPES)})")
    return t


def open_store(root: str | None = None) -> Store:
    """The caller's state store, collected (dead owners reaped) when it exists."""
    from ..runtime.state import Store

    store = Store(root)
    if os.path.isdir(store.containers_dir):
        from ..runtime.gc import collect

        try:
            collect(store)
        except (OSError, NsboxError):
            pass  # a read-only command still works on a store it cannot clean
    return store


def container_pid(state: dict) -> int:
    """The container's init PID if it is still that process, else 0."""
    pid = int(state.get("pid") or 0)
    if pid and procfs.alive(pid, state.get("pidStart")):
        return pid
    return 0


def resolve(ref: str, op: str, store: Store | None = None, *, running: bool = True,
            proc: str = "/proc") -> Target:
    """NAME, container id (or unique prefix), or PID -> Target.

    All digits means a PID unless a container is *named* that (ids are hex, so a
    digit string could be an id prefix too: a PID is the likelier intent)."""
    if not ref:
        raise NsboxError(f"{op}: a container name or PID is needed")
    store = store if store is not None else open_store()
    if ref.isdigit():
        named = f"{store.names_dir}/{ref}"
        if not os.path.islink(named):
            pid = int(ref)
            if pid <= 0 or not os.path.isdir(f"{proc}/{pid}"):
                raise NsboxError(f"{op} `{ref}`: no such process")
            if procfs.process_state(pid, proc) in ("Z", "X"):
                raise NsboxError(f"{op} `{ref}`: the process is a zombie (it has exited)")
            return Target(pid, ref)
    try:
        c = store.lookup(ref)
    except ContainerNotFound:
        raise NsboxError(f"{op} `{ref}`: no such container or process") from None
    st = c.read()
    pid = container_pid(st) if st.get("status") != "stopped" else 0
    if running and not pid:
        raise NsboxError(f"{op} `{ref}`: container is not running (status {st.get('status', 'unknown')})")
    return Target(pid, ref, c, st)


def ns_inode(pid: int | str, link: str, proc: str = "/proc") -> int | None:
    """The inode of a process's namespace (lsns's NS), or None if unreadable."""
    try:
        text = os.readlink(f"{proc}/{pid}/ns/{link}")
    except OSError:
        return None
    _, _, rest = text.partition("[")
    try:
        return int(rest.rstrip("]"))
    except ValueError:
        return None


def ns_inodes(pid: int | str, proc: str = "/proc") -> dict[str, int]:
    out = {}
    for t in NS_TYPES:
        ino = ns_inode(pid, t, proc)
        if ino is not None:
            out[t] = ino
    return out


def host_reference(proc: str = "/proc") -> tuple[int | str, dict[str, int]]:
    """(pid, namespaces) of the host: PID 1's; if they cannot be read (another
    user's, or an init with capabilities we lack), kthreadd's (kernel threads
    live in the initial namespaces); else our own."""
    for pid in (1, 2):
        if pid == 2 and not _is_kthreadd(proc):
            continue
        inodes = ns_inodes(pid, proc)
        if inodes:
            return pid, inodes
    return os.getpid(), ns_inodes("self", proc)


def _is_kthreadd(proc: str) -> bool:
    try:
        with open(f"{proc}/2/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"(kthreadd)" in data and data[data.rfind(b")") + 2:].split()[1] == b"0"
