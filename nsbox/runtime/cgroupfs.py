"""The ``cgroup`` mount inside a container: /sys/fs/cgroup as the container sees it.

With a cgroup namespace, a fresh mount of each hierarchy shows the container's own
cgroup as the root (cgroup_namespaces(7)), so the host's tree does not leak.
- v2: one cgroup2 mount;
- v1/hybrid: a tmpfs with one mount per hierarchy, named as on the host, and
  the host's alias symlinks (cpu -> cpu,cpuacct).
Where the kernel refuses a fresh mount (no cgroup namespace of our own, or v1
in a user namespace) the hierarchy is bind-mounted from the host instead, and so
it is where the container has no cgroup namespace (``layout.cgroupns`` False):
a fresh mount would show the host's whole tree, the bind shows its own cgroup
(as runc does).
"""

from __future__ import annotations

import errno as E
import os

from ..kernel import mount as M
from ..kernel.errors import KernelError
from ..kernel.fs import fd_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..cgroups.detect import Layout
    from ..kernel.iface import Kernel
    from .plan import MountStep

RO_BITS = M.MS_RDONLY | M.MS_NOSUID | M.MS_NODEV | M.MS_NOEXEC


def mount_cgroups(step: MountStep, k: Kernel, root_fd: int, layout: Layout | None) -> None:
    if layout is None:
        from ..cgroups.detect import detect

        layout = detect()
    flags = step.flags | M.MS_NOSUID | M.MS_NODEV | M.MS_NOEXEC
    bind = not getattr(layout, "cgroupns", True)
    fd = k.open_in_root(root_fd, step.dest, "dir")
    try:
        target = fd_path(fd)
        if layout.mode == "v2":
            _one(k, "cgroup2", target, flags, "", step.dest, _own_dir(layout, layout.hierarchies[0]), root_fd,
                 bind)
            return
        k.mount("tmpfs", target, "tmpfs", M.MS_NOSUID | M.MS_NODEV | M.MS_NOEXEC, "mode=755",
                label=step.dest)
    finally:
        k.close(fd)
    for h in layout.hierarchies:
        name = os.path.basename(h.mountpoint)
        sub = f"{step.dest}/{name}"
        hfd = k.open_in_root(root_fd, sub, "dir")
        try:
            if h.version == 2:
                _one(k, "cgroup2", fd_path(hfd), flags, "", sub, _own_dir(layout, h), root_fd, bind)
            else:
                data = ",".join(h.controllers + ((f"name={h.name}",) if h.name else ()))
                _one(k, "cgroup", fd_path(hfd), flags, data or "none", sub, _own_dir(layout, h), root_fd, bind)
        finally:
            k.close(hfd)
    parent = os.path.dirname(layout.hierarchies[0].mountpoint) if layout.hierarchies else ""
    if parent:
        for entry in _host_symlinks(parent):
            pfd = k.open_in_root(root_fd, step.dest, "dir")
            try:
                k.symlink(entry[1], pfd, entry[0], f"{step.dest}/{entry[0]}")
            finally:
                k.close(pfd)
    if step.flags & M.MS_RDONLY:
        fd = k.open_in_root(root_fd, step.dest)
        try:
            k.mount(None, fd_path(fd), None, M.MS_REMOUNT | M.MS_RDONLY | M.MS_NOSUID | M.MS_NODEV
                    | M.MS_NOEXEC, "mode=755", label=step.dest)
        finally:
            k.close(fd)


def _own_dir(layout: Layout, h) -> str:
    """What the host-bind fallback shows: the container's own cgroup directory
    (never the whole host hierarchy, when we know which one that is)."""
    path = layout.own_path(h)
    if path and path != "/" and os.path.isdir(h.mountpoint + path):
        return h.mountpoint + path
    return h.mountpoint


def _one(k: Kernel, fstype: str, target: str, flags: int, data: str, label: str, host: str,
         root_fd: int, bind: bool = False) -> None:
    try:
        if bind:
            raise KernelError(E.EPERM, "no cgroup namespace of its own")
        k.mount(fstype, target, fstype, flags, data or None, label=label)
    except KernelError as e:
        if e.errno not in (E.EPERM, E.EACCES, E.EINVAL, E.EBUSY):
            raise
        # No cgroup namespace of our own, or v1 in a user namespace: show the
        # container's own cgroup directory (``host``) read-only rather than nothing.
        k.mount(host, target, None, M.MS_BIND | M.MS_REC, label=label)
        fd = k.open_in_root(root_fd, label)  # the new bind mount, not the directory under it
        try:
            new = fd_path(fd)
            k.mount(None, new, None, M.MS_BIND | M.MS_REMOUNT | (flags & RO_BITS) | k.mount_flags(new),
                    label=label)
        finally:
            k.close(fd)


def _host_symlinks(parent: str) -> list[tuple[str, str]]:
    out = []
    try:
        for entry in os.scandir(parent):
            if entry.is_symlink():
                out.append((entry.name, os.readlink(entry.path)))
    except OSError:
        pass
    return out
