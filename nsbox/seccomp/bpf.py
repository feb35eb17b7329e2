"""OCI ``linux.seccomp`` -> a classic-BPF program, with libseccomp, cached on disk.

libseccomp (libseccomp2, on every Debian system) is called through ctypes the
way runc's libcontainer/seccomp/patchbpf and crun's seccomp.c use it: one
seccomp_rule_add_array() per (syscall, argument set), then seccomp_export_bpf().
Compiling Docker's profile costs a few hundred libseccomp calls (~10 ms), so
the exported program is kept under ``<state root>/seccomp/<key>.bpf``: the
key hashes the libseccomp version, the machine and the profile, and a start
with a profile seen before reads one small file (kernel.seccomp loads it).

Rules follow runc (libcontainer/seccomp/seccomp_linux.go): names unknown to
libseccomp are skipped (a profile lists calls of every architecture); a rule
whose action is the default action is redundant and skipped (libseccomp
refuses it); conditions on the same argument are ORed as separate rules,
conditions on different arguments are ANDed in one rule.
"""

from __future__ import annotations

import ctypes
import os

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EPERM = 1
ACT_VALUES = {
    "SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000, "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000,
}
OP_VALUES = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
             "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
SCMP_FLTATR_CTL_NNP = 3
SCMP_FLTATR_CTL_OPTIMIZE = 8
NR_SCMP_ERROR = -1
CACHE_FORMAT = "2"  # bump when the way a profile is compiled changes


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


_lib: Any = None


def libseccomp() -> Any:
    """The libseccomp handle, its prototypes declared once."""
    global _lib
    if _lib is not None:
        return _lib
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        raise ConfigError("seccomp: libseccomp.so.2 is not installed (apt-get install libseccomp2), "
                          "or run with --security-opt seccomp=unconfined") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.restype = None
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    _lib = lib
    return lib


def version() -> str:
    v = libseccomp().seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def library_identity() -> str:
    """Which libseccomp would compile the filter, without loading it (dlopen
    and the prototypes cost ~1 ms): its resolved file name carries the version
    (libseccomp.so.2.5.4), size and mtime catch a rebuilt one."""
    machine = os.uname().machine
    for d in (f"/usr/lib/{machine}-linux-gnu", f"/lib/{machine}-linux-gnu", "/usr/lib64", "/lib64",
              "/usr/lib", "/lib", "/usr/local/lib"):
        path = f"{d}/libseccomp.so.2"
        try:
            st = os.stat(path)
        except OSError:
            continue
        return f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"
    return version()


def action_value(action: str, errno_ret: int | None) -> int:
    value = ACT_VALUES[action]
    if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        value |= (EPERM if errno_ret is None else errno_ret) & 0xFFFF
    return value


def _rules_for(rule: dict) -> list[list[dict]]:
    """The argument sets of one OCI rule: one set, or one per condition when
    an argument index repeats (runc: such conditions are alternatives)."""
    args = rule.get("args") or []
    indexes = [a["index"] for a in args]
    if len(set(indexes)) == len(indexes):
        return [args]
    return [[a] for a in args]


def _cmp_array(args: list[dict]) -> Any:
    arr = (_ArgCmp * max(len(args), 1))()
    for i, a in enumerate(args):
        arr[i].arg = a["index"]
        arr[i].op = OP_VALUES[a["op"]]
        arr[i].datum_a = a.get("value", 0)
        arr[i].datum_b = a.get("valueTwo", 0)
    return arr


def compile_bpf(oci: dict) -> bytes:
    """Build the filter with libseccomp and return the exported BPF program."""
    lib = libseccomp()
    default = action_value(oci["defaultAction"], oci.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise ConfigError(f"seccomp: libseccomp refused the default action {oci['defaultAction']}")
    try:
        # The filter is exported, not loaded: no_new_privs is ours to set.
        lib.seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)
        lib.seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)  # binary tree (2.5+); ignored before
        for arch in oci.get("architectures") or ():
            token = lib.seccomp_arch_resolve_name(arch.removeprefix("SCMP_ARCH_").lower().encode())
            if token == 0:
                raise ConfigError(f"linux.seccomp.architectures: unknown architecture `{arch}`")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc < 0 and rc != -17:  # EEXIST: the native one is always there
                raise ConfigError(f"linux.seccomp.architectures: `{arch}`: {os.strerror(-rc)}")
        for i, rule in enumerate(oci.get("syscalls") or ()):
            _add_rule(lib, ctx, rule, default, i)
        return _export(lib, ctx)
    finally:
        lib.seccomp_release(ctx)


def _add_rule(lib: Any, ctx: int, rule: dict, default: int, i: int) -> None:
    action = action_value(rule["action"], rule.get("errnoRet"))
    if action == default:
        return
    for name in rule["names"]:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr == NR_SCMP_ERROR:
            continue  # not a system call libseccomp knows (another architecture's, or newer)
        for args in _rules_for(rule):
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(args), _cmp_array(args))
            if rc < 0:
                raise ConfigError(f"linux.seccomp.syscalls[{i}]: rule for `{name}`: {os.strerror(-rc)}")


def _export(lib: Any, ctx: int) -> bytes:
    fd = os.memfd_create("nsbox-seccomp", os.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise ConfigError(f"seccomp: exporting the filter: {os.strerror(-rc)}")
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def cache_key(oci: dict) -> str:
    """Hash of what decides the program.  repr() of the (JSON-shaped) object is
    4x cheaper than JSON text; the same profile listed in another order only
    costs one more cache entry."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # 3.11: no hashlib/openssl import
    except ImportError:
        from hashlib import sha256
    text = f"{CACHE_FORMAT}\n{library_identity()}\n{os.uname().machine}\n{oci!r}"
    return sha256(text.encode()).hexdigest()[:40]


def program(oci: dict, cache_dir: str | None) -> bytes:
    """The BPF program for ``oci``: from the cache when it was compiled before."""
    if not cache_dir:
        return compile_bpf(oci)
    path = f"{cache_dir}/{cache_key(oci)}.bpf"
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data and len(data) % 8 == 0:
            return data
    except OSError:
        pass
    data = compile_bpf(oci)
    _store(cache_dir, path, data)
    return data


def _store(cache_dir: str, path: str, data: bytes) -> None:
    """Write the cache entry atomically; a cache that cannot be written is no error."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(cache_dir, 0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def load_flags(oci: dict) -> int:
    from ..kernel.seccomp import FLAGS

    flags = 0
    for name in oci.get("flags") or ():
        flags |= FLAGS[name]
    return flags
