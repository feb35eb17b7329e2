"""Run a Plan's file system steps in the container's new mount namespace.

Every target inside the new root is opened with openat2(RESOLVE_IN_ROOT) and
mounted on through /proc/self/fd/N, so nothing in the root filesystem (symlinks,
``..``) can redirect a mount to the host.  Error messages use container paths.
"""

from __future__ import annotations

import errno as E
import os

from ..kernel import mount as M
from ..kernel.errors import KernelError
from ..kernel.fs import MOUNT_ATTR_RDONLY, fd_path
from ..spec.model import overlay_escape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..kernel.iface import Kernel
    from .plan import DeviceStep, MountStep, Plan

# What a rootless container binds from the host when the kernel refuses it a
# fresh instance (sysfs needs a network namespace it owns, mqueue an IPC one,
# proc a PID one).
HOST_FALLBACK = {"sysfs": "/sys", "mqueue": "/dev/mqueue", "proc": "/proc"}


def mount_root(plan: Plan, k: Kernel) -> int:
    """Steps 1-2: isolate propagation, mount the root; return an O_PATH fd to it."""
    k.mount(None, "/", None, plan.initial_propagation, label="/")
    if plan.overlay is not None:
        lowers, upper, work = plan.overlay  # lowers: already in overlayfs syntax
        data = f"lowerdir={lowers}"
        if upper:
            data += f",upperdir={overlay_escape(upper)},workdir={overlay_escape(work)}"
        if plan.userxattr:
            data += ",userxattr"
        try:
            k.mount("overlay", plan.root, "overlay", 0, data, label=f"{plan.root} (overlay root)")
        except KernelError as e:
            if plan.userxattr and e.errno == E.EINVAL:
                k.mount("overlay", plan.root, "overlay", 0, data.replace(",userxattr", ""),
                        label=f"{plan.root} (overlay root)")
            else:
                raise
    else:
        k.mount(plan.root, plan.root, None, M.MS_BIND | M.MS_REC, label=f"{plan.root} (root)")
    return k.open_path(plan.root, "/")


def _target(k: Kernel, root_fd: int, dest: str, is_file: bool) -> int:
    return k.open_in_root(root_fd, dest, "file" if is_file else "dir")


def do_mount(step: MountStep, k: Kernel, root_fd: int, layout=None, fallback: set[str] = frozenset()) -> None:
    """One spec mount (step 3).

    The target fd is the directory *under* the new mount; whatever is done to
    the mount afterwards (remount, propagation, mount_setattr) goes through a
    fresh fd resolved after it, which lands on the new mount's root."""
    if step.kind == "cgroup":
        from .cgroupfs import mount_cgroups

        mount_cgroups(step, k, root_fd, layout)
        return
    fd = _target(k, root_fd, step.dest, step.is_file)
    try:
        if step.kind == "bind":
            _bind(step, k, fd_path(fd))
        else:
            _mount_fs(step, k, fd_path(fd), fallback)
    finally:
        k.close(fd)
    if step.remount or step.recursive_ro or step.propagation or step.fallback_ro:
        fd = k.open_in_root(root_fd, step.dest)
        try:
            _after_mount(step, k, fd)
        finally:
            k.close(fd)


def _after_mount(step: MountStep, k: Kernel, fd: int) -> None:
    target = fd_path(fd)
    if step.remount:
        # A bind ignores flags: apply them with a remount, keeping the flags the
        # kernel locked on the source (a user namespace may not clear them).
        flags = M.MS_BIND | M.MS_REMOUNT | step.remount | k.mount_flags(target)
        k.mount(None, target, None, flags, label=step.dest)
    if step.recursive_ro or step.fallback_ro:
        k.mount_setattr(fd, MOUNT_ATTR_RDONLY, True, step.dest)
    if step.propagation:
        k.mount(None, target, None, step.propagation, label=step.dest)


def _bind(step: MountStep, k: Kernel, target: str) -> None:
    if step.idmap_fd >= 0:
        from .idmap import idmapped_bind

        idmapped_bind(step, target)
        return
    try:
        k.mount(step.source, target, None, step.flags, label=step.dest)
    except KernelError as e:
        if e.errno == E.ENOENT:
            raise KernelError(E.ENOENT, f"bind mount source `{step.source}`", step.source) from None
        if e.errno in (E.EACCES, E.EPERM) and os.geteuid() == 0 and os.getuid() == 0:
            e.hint = "the container's root must be able to reach the source from its user namespace"
        raise


def _mount_fs(step: MountStep, k: Kernel, target: str, fallback: set[str]) -> None:
    try:
        k.mount(step.source, target, step.fstype, step.flags, step.data, label=step.dest)
    except KernelError as e:
        if step.fstype == "devpts" and e.errno == E.EINVAL and "gid=" in step.data:
            # gid=5 (tty) is not mapped in this user namespace: the kernel refuses it
            data = ",".join(o for o in step.data.split(",") if not o.startswith("gid="))
            k.mount(step.source, target, step.fstype, step.flags, data, label=step.dest)
            return
        host = HOST_FALLBACK.get(step.fstype or "") if step.fstype in fallback else None
        if host and e.errno in (E.EPERM, E.EACCES):
            if os.path.isdir(host):
                # runc --rootless does the same for sysfs: bind the host's, read-only
                k.mount(host, target, None, M.MS_BIND | M.MS_REC, label=step.dest)
                step.fallback_ro = bool(step.flags & M.MS_RDONLY)
                return
            if step.fstype == "mqueue":
                return  # the host's IPC namespace has no mqueue mount to show either
        raise


def make_device(d: DeviceStep, k: Kernel, root_fd: int) -> None:
    """Step 4: mknod (rootful) or bind the host's node onto an empty file."""
    parent, _, name = d.dest.rpartition("/")
    if d.bind:
        fd = k.open_in_root(root_fd, d.dest, "file")
        try:
            # before pivot_root the host's node is still at the same path
            k.mount(d.dest, fd_path(fd), None, M.MS_BIND, label=d.dest)
        finally:
            k.close(fd)
        return
    kind = {"c": 0o020000, "u": 0o020000, "b": 0o060000, "p": 0o010000}.get(d.type)
    if kind is None:
        raise KernelError(E.EINVAL, f"device `{d.dest}`: unknown type `{d.type}`")
    pfd = k.open_in_root(root_fd, parent or "/", "dir")
    try:
        k.mknod(pfd, name, kind | (d.mode & 0o7777), os.makedev(d.major, d.minor), d.dest)
    finally:
        k.close(pfd)
    fd = k.open_in_root(root_fd, d.dest)
    try:
        k.chown(fd_path(fd), d.uid, d.gid, d.dest)
    finally:
        k.close(fd)


def make_symlink(target: str, dest: str, k: Kernel, root_fd: int) -> None:
    parent, _, name = dest.rpartition("/")
    pfd = k.open_in_root(root_fd, parent or "/", "dir")
    try:
        k.symlink(target, pfd, name, dest)
    finally:
        k.close(pfd)


def pivot(root_fd: int, k: Kernel) -> None:
    """Step 5: pivot_root(".", ".") then detach the old root (runc, youki pivot_rootfs).

    The old root is made rslave first so the detach does not propagate to the host.
    """
    k.fchdir(root_fd, "/")
    k.pivot_root(".", ".")
    k.mount(None, ".", None, M.MS_SLAVE | M.MS_REC, label="old root")
    k.umount(".", M.MNT_DETACH, label="old root")
    k.chdir("/")


def mask(path: str, k: Kernel) -> None:
    """Hide ``path``: /dev/null over a file, an empty read-only tmpfs over a directory."""
    try:
        fd = k.open_in_root(-100, path)  # AT_FDCWD: after pivot_root, "/" is the container's
    except KernelError as e:
        if e.errno == E.ENOENT:
            return
        raise
    try:
        target = fd_path(fd)
        if k.is_dir(fd):
            k.mount("tmpfs", target, "tmpfs", M.MS_RDONLY | M.MS_NOSUID | M.MS_NODEV | M.MS_NOEXEC,
                    "size=0,mode=000", label=path)
        else:
            k.mount("/dev/null", target, None, M.MS_BIND, label=path)
    finally:
        k.close(fd)


def make_readonly(path: str, k: Kernel) -> None:
    """Read-only ``path``: remount it if it is a mount, else bind it on itself first.
    (Only that mount: the mounts below it keep their own flags.)"""
    try:
        fd = k.open_in_root(-100, path)
    except KernelError as e:
        if e.errno == E.ENOENT:
            return
        raise
    try:
        target = fd_path(fd)
        try:
            k.mount(None, target, None, M.MS_BIND | M.MS_REMOUNT | M.MS_RDONLY | k.mount_flags(target),
                    label=path)
            return
        except KernelError as e:
            if e.errno != E.EINVAL:  # EINVAL: not the root of a mount
                raise
        k.mount(target, target, None, M.MS_BIND | M.MS_REC, label=path)
    finally:
        k.close(fd)
    fd = k.open_in_root(-100, path)  # now the new bind mount, not the directory under it
    try:
        target = fd_path(fd)
        k.mount(None, target, None, M.MS_BIND | M.MS_REMOUNT | M.MS_RDONLY | k.mount_flags(target),
                label=path)
    finally:
        k.close(fd)


def remount_root_readonly(k: Kernel) -> None:
    k.mount(None, "/", None, M.MS_BIND | M.MS_REMOUNT | M.MS_RDONLY | k.mount_flags("/"), label="/")


def setup(plan: Plan, k: Kernel, layout=None, before_cgroup=None, before_pivot=None) -> None:
    """Steps 1-5 (everything before the process drops privileges).

    ``before_cgroup()`` is called before the first cgroup mount (init waits
    there for its cgroup and creates its cgroup namespace), or before
    pivot_root without one (it may be called again: it acts once).
    ``before_pivot()`` (the OCI create hooks' moment: the mounts are made, the
    root is not pivoted yet) is called right before pivot_root."""
    root_fd = mount_root(plan, k)
    try:
        for step in plan.mounts:
            if step.kind == "cgroup" and before_cgroup is not None:
                before_cgroup()
            do_mount(step, k, root_fd, layout, plan.host_fallback)
        for d in plan.devices:
            make_device(d, k, root_fd)
        for target, dest in plan.symlinks:
            make_symlink(target, dest, k, root_fd)
        if before_cgroup is not None:
            before_cgroup()  # (no cgroup mount: still before pivot_root, while the host's /sys/fs/cgroup is here)
        if before_pivot is not None:
            before_pivot()
        pivot(root_fd, k)
    finally:
        k.close(root_fd)


def finish(plan: Plan, k: Kernel) -> None:
    """Step 6, after pivot_root (and after the console is in place)."""
    for path in plan.masked:
        mask(path, k)
    for path in plan.readonly:
        make_readonly(path, k)
    if plan.readonly_root:
        remount_root_readonly(k)
    set_propagation(plan, k)


def set_propagation(plan: Plan, k: Kernel, proc: str = "/proc") -> None:
    """The root's propagation on every mount, except volumes that chose their own."""
    if not plan.explicit:
        k.mount(None, "/", None, plan.final_propagation | M.MS_REC, label="/")
        return
    from ..procfs import mountinfo

    try:
        points = [m.mountpoint for m in mountinfo("self", proc)]
    except OSError:
        points = ["/"]
    keep = plan.explicit
    for point in points:
        if any(point == d or point.startswith(d.rstrip("/") + "/") for d in keep):
            continue
        k.mount(None, point, None, plan.final_propagation, label=point)
