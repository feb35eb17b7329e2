"""seccomp(2): install a classic-BPF filter that libseccomp exported earlier.

Loading the bytes ourselves (instead of seccomp_load()) lets the runtime cache
the compiled filter and skip libseccomp on the common path: one system call.
"""

from __future__ import annotations

import ctypes

from .errors import KernelError
from .libc import SYS, syscall

SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2
# seccomp(2) filter flags, by their OCI names (config-linux.md "flags").
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
    "SECCOMP_FILTER_FLAG_NEW_LISTENER": 8,
    "SECCOMP_FILTER_FLAG_TSYNC_ESRCH": 16,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32,
}
BPF_MAXINSNS = 4096
INSN_SIZE = 8  # struct sock_filter { u16 code; u8 jt, jf; u32 k; }


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load_filter(bpf: bytes, flags: int = 0) -> int:
    """Install ``bpf`` (sock_filter array, host byte order) on the calling thread.

    Needs no_new_privs or CAP_SYS_ADMIN (seccomp(2)).  Returns the syscall's
    result (a listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0)."""
    n = len(bpf) // INSN_SIZE
    if n == 0 or len(bpf) % INSN_SIZE:
        raise KernelError(22, f"seccomp: filter of {len(bpf)} bytes is not a BPF program")
    if n > BPF_MAXINSNS:
        raise KernelError(22, f"seccomp: filter has {n} instructions (the kernel takes {BPF_MAXINSNS})")
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(n, ctypes.cast(buf, ctypes.c_void_p).value)
    r = syscall(SYS["seccomp"], SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(prog))
    if r < 0:
        err = ctypes.get_errno()
        hint = "seccomp needs no_new_privs or CAP_SYS_ADMIN" if err == 13 else None
        raise KernelError(err, "seccomp SECCOMP_SET_MODE_FILTER", hint=hint)
    return r
