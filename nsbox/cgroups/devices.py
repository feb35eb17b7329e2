"""Device access control: which device nodes a container may create and open.

A container's root given CAP_MKNOD (Docker's default set has it; nsbox's, as
Podman's, does not: ``--cap-add MKNOD``) can mknod; without a device policy,
``mknod /dev/sda b 8 0`` would give it the host's disk.  Rules
are OCI ``linux.resources.devices`` (later rules override earlier ones); the
default is Docker's: deny everything, allow the standard character devices
and mknod of any node (it cannot be opened).
- cgroup v1: ``devices.deny``/``devices.allow`` of the devices controller;
- cgroup v2: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the
  container's cgroup (what runc's devicefilter and crun's ebpf.c generate).
"""

from __future__ import annotations

import ctypes
import os
import struct

from ..kernel.errors import KernelError

# (type, major, minor, access); -1 is "any"
DEFAULT_ALLOW: tuple[tuple[str, int, int, str], ...] = (
    ("c", -1, -1, "m"), ("b", -1, -1, "m"),      # mknod of anything (opening still denied)
    ("c", 1, 3, "rwm"), ("c", 1, 5, "rwm"), ("c", 1, 7, "rwm"), ("c", 1, 8, "rwm"), ("c", 1, 9, "rwm"),
    ("c", 5, 0, "rwm"), ("c", 5, 1, "rwm"), ("c", 5, 2, "rwm"), ("c", 136, -1, "rwm"),
    ("c", 10, 200, "rwm"),                        # /dev/net/tun
)


def default_rules() -> list[dict]:
    """The OCI form of the default policy (for linux.resources.devices)."""
    rules: list[dict] = [{"allow": False, "access": "rwm"}]
    for kind, major, minor, access in DEFAULT_ALLOW:
        r: dict = {"allow": True, "type": kind, "access": access}
        if major >= 0:
            r["major"] = major
        if minor >= 0:
            r["minor"] = minor
        rules.append(r)
    return rules


def _fields(rule: dict) -> tuple[str, int, int, str, bool]:
    kind = rule.get("type") or "a"
    major = rule.get("major")
    minor = rule.get("minor")
    return (kind, -1 if major is None else int(major), -1 if minor is None else int(minor),
            rule.get("access") or "rwm", bool(rule.get("allow")))


# -- cgroup v1 ---------------------------------------------------------------

def v1_lines(rules: list[dict]) -> list[tuple[str, str]]:
    """(file, line) writes for the v1 devices controller, in order."""
    out = []
    for rule in rules:
        kind, major, minor, access, allow = _fields(rule)
        spec = "a" if kind == "a" else f"{kind} {'*' if major < 0 else major}:{'*' if minor < 0 else minor} {access}"
        out.append(("devices.allow" if allow else "devices.deny", spec))
    return out


def apply_v1(cgroup_dir: str, rules: list[dict]) -> None:
    from .manager import write_file

    for name, line in v1_lines(rules):
        write_file(f"{cgroup_dir}/{name}", line)


# -- cgroup v2: eBPF ----------------------------------------------------------

BPF_PROG_LOAD, BPF_PROG_ATTACH = 5, 8
BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI = 15, 6, 2
ACC = {"m": 1, "r": 2, "w": 4}
DEV = {"b": 1, "c": 2}
SYS_BPF = {"x86_64": 321, "aarch64": 280}


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


LDX_W, AND_K, RSH_K, MOV_K, JNE_K, EXIT = 0x61, 0x57, 0x77, 0xB7, 0x55, 0x95


def program(rules: list[dict]) -> bytes:
    """The filter: the LAST matching rule decides; no match denies.

    r2 = type, r3 = access, r4 = major, r5 = minor (struct bpf_cgroup_dev_ctx)."""
    prologue = [_insn(LDX_W, 2, 1, 0), _insn(AND_K, 2, imm=0xFFFF), _insn(LDX_W, 3, 1, 0),
                _insn(RSH_K, 3, imm=16), _insn(LDX_W, 4, 1, 4), _insn(LDX_W, 5, 1, 8)]
    blocks: list[list[bytes]] = []
    for rule in reversed(rules):
        kind, major, minor, access, allow = _fields(rule)
        checks: list[tuple[int, int, int]] = []  # (code, reg, imm) "skip this rule unless"
        if kind in DEV:
            checks.append((JNE_K, 2, DEV[kind]))
        mask = sum(ACC[c] for c in set(access) if c in ACC)
        if mask != 7:
            checks.append(("access", 3, mask))  # type: ignore[arg-type]
        if major >= 0:
            checks.append((JNE_K, 4, major))
        if minor >= 0:
            checks.append((JNE_K, 5, minor))
        body: list[tuple] = []
        for code, reg, imm in checks:
            if code == "access":
                # skip unless (requested & ~allowed) == 0: r0 = r3; r0 &= ~mask; if r0 != 0 skip
                body.append(("raw", _insn(0xBF, 0, 3)))            # mov r0, r3
                body.append(("raw", _insn(AND_K, 0, imm=~imm & 0xFFFF)))
                body.append(("skip", 0))
            else:
                body.append(("skip", (code, reg, imm)))
        body.append(("raw", _insn(MOV_K, 0, imm=1 if allow else 0)))
        body.append(("raw", _insn(EXIT)))
        n = len(body)
        insns = []
        for i, (what, arg) in enumerate(body):
            if what == "raw":
                insns.append(arg)
            else:
                to_end = n - i - 1  # jump over the rest of this block
                if arg == 0:
                    insns.append(_insn(JNE_K, 0, off=to_end, imm=0))
                else:
                    code, reg, imm = arg
                    insns.append(_insn(code, reg, off=to_end, imm=imm))
        blocks.append(insns)
        if not checks:
            break  # matches everything: earlier rules (and the default) are unreachable
    else:
        blocks.append([_insn(MOV_K, 0, imm=0), _insn(EXIT)])  # no rule matched: deny
    return b"".join(prologue + [i for b in blocks for i in b])


def _bpf(cmd: int, attr: bytes, what: str) -> int:
    from ..kernel.libc import libc

    buf = ctypes.create_string_buffer(attr, len(attr))
    nr = SYS_BPF.get(os.uname().machine, 321)
    r = libc.syscall(nr, cmd, buf, len(attr))
    if r < 0:
        raise KernelError(ctypes.get_errno(), what)
    return r


def apply_v2(cgroup_dir: str, rules: list[dict]) -> None:
    """Load the filter and attach it to ``cgroup_dir`` (it stays while the cgroup exists)."""
    code = program(rules)
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(b"Apache-2.0")
    attr = struct.pack("<IIQQIIQII16sI", BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8,
                       ctypes.addressof(insns), ctypes.addressof(lic), 0, 0, 0, 0, 0, b"nsbox_dev", 0)
    attr += b"\0" * (128 - len(attr))
    prog = _bpf(BPF_PROG_LOAD, attr, "load the device filter (bpf BPF_PROG_LOAD)")
    try:
        cg = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            att = struct.pack("<IIIII", cg, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, 0)
            _bpf(BPF_PROG_ATTACH, att + b"\0" * (128 - len(att)),
                 f"attach the device filter to `{cgroup_dir}` (bpf BPF_PROG_ATTACH)")
        finally:
            os.close(cg)
    finally:
        os.close(prog)


def apply(cg, rules: list[dict]) -> None:
    """Apply ``rules`` to a container's cgroup: the v1 devices controller where
    there is one, else an eBPF filter on its v2 cgroup."""
    h = cg.layout.controller("devices")
    if h is not None and h.version == 1:
        apply_v1(cg.dir(h), rules)
        return
    u = cg.layout.unified()
    if u is not None:
        apply_v2(cg.dir(u), rules)
