"""Landlock LSM (landlock(7)): unprivileged filesystem access rules.

A ruleset "handles" a set of access rights; after landlock_restrict_self(2)
every handled right is denied except beneath the paths a rule grants it on.
Rights newer than the running kernel's ABI are left out (best effort, as the
kernel documentation's example does), so a ruleset works on any ABI >= 1.
"""

from __future__ import annotations

import ctypes
import os

from .errors import KernelError
from .libc import SYS, syscall

CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13       # ABI 2
TRUNCATE = 1 << 14    # ABI 3
IOCTL_DEV = 1 << 15   # ABI 5

# Rights each ABI version handles (ABI 4 added network rules, 6 scopes, 7 logging: no new fs rights).
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
FS_ALL = (1 << 16) - 1
READ = EXECUTE | READ_FILE | READ_DIR
# The only rights a rule on a non-directory may carry.
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI; KernelError ENOSYS (not built in) or EOPNOTSUPP (not enabled)."""
    r = syscall(SYS["landlock_create_ruleset"], None, 0, CREATE_RULESET_VERSION)
    if r < 0:
        raise KernelError(ctypes.get_errno(), "landlock_create_ruleset LANDLOCK_CREATE_RULESET_VERSION")
    return r


def handled_fs(abi: int) -> int:
    """Filesystem rights the kernel with this ABI can handle."""
    return _FS_BY_ABI.get(abi, FS_ALL) if abi > 0 else 0


def create_ruleset(handled: int) -> int:
    attr = _RulesetAttr(handled)
    fd = syscall(SYS["landlock_create_ruleset"], ctypes.byref(attr), ctypes.sizeof(attr), 0)
    if fd < 0:
        raise KernelError(ctypes.get_errno(), f"landlock_create_ruleset handled={handled:#x}")
    return fd


def add_path_rule(ruleset: int, path: str, access: int) -> None:
    """Grant ``access`` beneath ``path`` (a file keeps only the rights files can have)."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError(e.errno or 0, f"landlock rule for `{path}`", path) from None
    try:
        if os.fstat(fd).st_mode & 0o170000 != 0o040000:  # not a directory
            access &= FILE_RIGHTS
        attr = _PathBeneath(access, fd)
        if syscall(SYS["landlock_add_rule"], ruleset, RULE_PATH_BENEATH, ctypes.byref(attr), 0) < 0:
            raise KernelError(ctypes.get_errno(), f"landlock_add_rule `{path}` access={access:#x}", path)
    finally:
        os.close(fd)


def restrict_self(ruleset: int) -> None:
    """Enforce the ruleset on the caller (needs no_new_privs or CAP_SYS_ADMIN)."""
    if syscall(SYS["landlock_restrict_self"], ruleset, 0) < 0:
        err = ctypes.get_errno()
        raise KernelError(err, "landlock_restrict_self",
                          hint="Landlock needs no_new_privs or CAP_SYS_ADMIN" if err == 1 else None)
