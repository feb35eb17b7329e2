"""sethostname(2) and setdomainname(2)."""

from __future__ import annotations

import ctypes

from .errors import KernelError
from .libc import libc

libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
libc.setdomainname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def sethostname(name: str) -> None:
    raw = name.encode()
    if libc.sethostname(raw, len(raw)) == -1:
        raise KernelError(ctypes.get_errno(), f"sethostname `{name}`")


def setdomainname(name: str) -> None:
    raw = name.encode()
    if libc.setdomainname(raw, len(raw)) == -1:
        raise KernelError(ctypes.get_errno(), f"setdomainname `{name}`")
