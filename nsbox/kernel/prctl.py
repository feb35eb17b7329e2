"""prctl(2) calls used by the runtime, each wrapped once."""

from __future__ import annotations

import ctypes

from .errors import KernelError
from .libc import (
    PR_GET_NO_NEW_PRIVS,
    PR_GET_SECCOMP,
    PR_SET_DUMPABLE,
    PR_SET_KEEPCAPS,
    PR_SET_NAME,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    libc,
)

libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0, what: str = "prctl") -> int:
    r = libc.prctl(option, arg2, arg3, arg4, arg5)
    if r == -1:
        raise KernelError(ctypes.get_errno(), what)
    return r


def set_pdeathsig(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig, what="prctl PR_SET_PDEATHSIG")


def set_dumpable(on: bool) -> None:
    prctl(PR_SET_DUMPABLE, int(on), what="prctl PR_SET_DUMPABLE")


def set_keepcaps(on: bool) -> None:
    prctl(PR_SET_KEEPCAPS, int(on), what="prctl PR_SET_KEEPCAPS")


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1, what="prctl PR_SET_NO_NEW_PRIVS")


def get_no_new_privs() -> bool:
    return bool(prctl(PR_GET_NO_NEW_PRIVS, what="prctl PR_GET_NO_NEW_PRIVS"))


def get_seccomp() -> int:
    return prctl(PR_GET_SECCOMP, what="prctl PR_GET_SECCOMP")


def set_name(name: str) -> None:
    buf = ctypes.create_string_buffer(name.encode()[:15])
    libc.prctl(PR_SET_NAME, ctypes.cast(buf, ctypes.c_void_p).value or 0, 0, 0, 0)
