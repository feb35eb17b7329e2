"""File system calls that resolve paths safely: openat2(2) with RESOLVE_IN_ROOT,
mount_setattr(2).

``open_in_root(root_fd, "/a/b")`` resolves ``/a/b`` as if ``root_fd`` were "/":
absolute symlinks and ``..`` cannot leave it (the CVE-2021-30465 class), which is
what mounting into an untrusted root filesystem needs.
"""

from __future__ import annotations

import ctypes
import errno as E
import os

from .errors import KernelError
from .libc import SYS, b, syscall

O_PATH = 0o10000000
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

AT_RECURSIVE = 0x8000
AT_EMPTY_PATH = 0x1000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR_IDMAP = 0x100000


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0, label: str | None = None) -> int:
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    while True:
        fd = syscall(SYS["openat2"], dirfd, b(path), ctypes.byref(how), ctypes.sizeof(how))
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err not in (E.EINTR, E.EAGAIN):
            raise KernelError(err, f"open `{label or path}`", label or path)


def open_in_root(root_fd: int, path: str, create: str | None = None, mode: int = 0o755) -> int:
    """An O_PATH fd for ``path`` resolved inside ``root_fd``; create it (and parents)
    as a directory (``create="dir"``) or an empty file (``create="file"``) if missing."""
    rel = path.lstrip("/") or "."
    try:
        return openat2(root_fd, rel, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, label=path)
    except KernelError as e:
        if e.errno != E.ENOENT or create is None or rel == ".":
            raise
    parent, _, name = rel.rpartition("/")
    pfd = open_in_root(root_fd, "/" + parent, "dir")
    try:
        if create == "dir":
            os.mkdir(name, mode, dir_fd=pfd)
        else:
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                             0o644, dir_fd=pfd))
    except FileExistsError:
        pass  # a dangling symlink, or a concurrent creator: the reopen below decides
    except OSError as e:
        raise KernelError(e.errno or 0, f"create `{path}`", path) from None
    finally:
        os.close(pfd)
    try:
        return openat2(root_fd, rel, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, label=path)
    except KernelError as e:
        if e.errno == E.ENOENT:
            raise KernelError(E.ENOENT, f"create `{path}`: a dangling symlink is in the way", path) from None
        raise


def fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40
AT_FDCWD = -100


def mount_setattr(fd: int, path: str, attr_set: int, attr_clr: int = 0, recursive: bool = True,
                  label: str | None = None, userns_fd: int = 0) -> None:
    attr = _MountAttr(attr_set, attr_clr, 0, userns_fd)
    flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    if syscall(SYS["mount_setattr"], fd, b(path), flags, ctypes.byref(attr), ctypes.sizeof(attr)) == -1:
        raise KernelError(ctypes.get_errno(), f"mount_setattr `{label or path}`", label or path)


def open_tree(path: str, recursive: bool, label: str | None = None) -> int:
    """A detached copy of the mount at ``path`` (open_tree(2) OPEN_TREE_CLONE)."""
    flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (AT_RECURSIVE if recursive else 0)
    fd = syscall(SYS["open_tree"], AT_FDCWD, b(path), flags)
    if fd < 0:
        raise KernelError(ctypes.get_errno(), f"open_tree `{label or path}`", label or path)
    return int(fd)


def move_mount(fd: int, target_fd: int, label: str) -> None:
    """Attach a detached tree (from open_tree) on the directory ``target_fd`` (move_mount(2))."""
    flags = MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH
    if syscall(SYS["move_mount"], fd, b"", target_fd, b"", flags) == -1:
        raise KernelError(ctypes.get_errno(), f"move_mount to `{label}`", label)
