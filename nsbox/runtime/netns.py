"""Register a container's network namespace at /run/netns/<name> for ``ip netns``.

``ip netns list`` lists /run/netns and ``ip netns exec NAME`` opens
/run/netns/NAME and setns(2)s into it; Docker never creates these (the seed:
"the symlinks that netns relies on are not present").  The registration is what
``ip netns add`` makes: an empty file with the namespace bind-mounted on it, in
the host's mount namespace, under a /run/netns that is a shared mount point
(iproute2 ip/ipnetns.c netns_add) so the unmount propagates to copies.

A bind mount keeps the namespace alive after the container exits, so it is a
resource held outside the container directory: recorded in state.json before it
is made and released (umount + unlink) by the owner, ``rm``, or the garbage
collector after a SIGKILL.  Root only: an unprivileged user cannot mount on the
host.  Kept out of ``nsbox run``'s imports until a root container has a new
network namespace.
"""

from __future__ import annotations

import os

from ..kernel import mount as M
from ..kernel.errors import KernelError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .create import Created

RUN_DIR = "/run/netns"


def register(created: Created, run_dir: str = RUN_DIR) -> str | None:
    """Bind /proc/<init>/ns/net on <run_dir>/<name or id>; the path, or None if taken."""
    c = created.container
    src = f"/proc/{created.pid}/ns/net"
    inode = os.stat(src).st_ino
    _ensure_shared_dir(run_dir)
    name = c.state.get("name")
    for candidate in ([name] if name else []) + [c.id]:
        path = f"{run_dir}/{candidate}"
        if os.path.lexists(path):
            continue  # someone else's (an `ip netns add` of that name): never replace it
        created.hold("netns", f"unregister network namespace `{path}`",
                      lambda p=path, i=inode: release({"path": p, "inode": i}), path=path, inode=inode)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
        except FileExistsError:  # lost a race for the name
            created.undo.actions.pop()
            c.drop_resource("netns")
            continue
        except OSError as e:
            raise KernelError(e.errno or 0, f"create `{path}`", path) from None
        os.close(fd)
        M.mount(src, path, None, M.MS_BIND, label=path)
        return path
    return None


def _ensure_shared_dir(run_dir: str) -> None:
    os.makedirs(run_dir, 0o755, exist_ok=True)
    try:
        M.mount("", run_dir, "none", M.MS_SHARED | M.MS_REC)
    except KernelError as e:
        if e.errno != 22:  # EINVAL: not a mount point yet; make it one, as iproute2 does
            raise
        M.mount(run_dir, run_dir, "none", M.MS_BIND | M.MS_REC)
        M.mount("", run_dir, "none", M.MS_SHARED | M.MS_REC)


def release(record: dict) -> None:
    """Unmount and remove the registration if it is still ours (same namespace
    inode); idempotent, never touches another namespace's file."""
    path = record.get("path")
    if not path or not path.startswith("/") or "/../" in path:
        return
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if st.st_ino == record.get("inode"):
        try:
            M.umount(path, M.MNT_DETACH)
        except KernelError as e:
            if e.errno not in (22, 2):  # EINVAL: not mounted any more
                raise
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return
    # what is left must be our empty placeholder file (a crash between create and mount)
    if st.st_size == 0 and (st.st_mode & 0o170000) == 0o100000 and not _is_mountpoint(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _is_mountpoint(path: str) -> bool:
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split(" ")[4] == path for line in f)
    except OSError:
        return False
