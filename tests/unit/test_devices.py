"""Device policy: the v1 lines and the v2 eBPF program (run by a tiny interpreter here)."""

from __future__ import annotations

import struct

from nsbox.cgroups import devices as D


def run(prog: bytes, kind: str, major: int, minor: int, access: str) -> int:
    """Interpret the handful of BPF instructions the generator emits."""
    acc = sum(D.ACC[c] for c in access)
    ctx = struct.pack("<III", (acc << 16) | D.DEV[kind], major, minor)
    regs = [0] * 11
    insns = [struct.unpack("<BBhi", prog[i:i + 8]) for i in range(0, len(prog), 8)]
    pc = 0
    while True:
        code, regs_byte, off, imm = insns[pc]
        dst, src = regs_byte & 0xF, regs_byte >> 4
        pc += 1
        if code == D.LDX_W:
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif code == D.AND_K:
            regs[dst] &= imm & 0xFFFFFFFFFFFFFFFF
        elif code == D.RSH_K:
            regs[dst] >>= imm
        elif code == D.MOV_K:
            regs[dst] = imm
        elif code == 0xBF:
            regs[dst] = regs[src]
        elif code == D.JNE_K:
            if regs[dst] != (imm & 0xFFFFFFFF):
                pc += off
        elif code == D.EXIT:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


def test_default_policy():
    prog = D.program(D.default_rules())
    assert run(prog, "c", 1, 3, "rw") == 1        # /dev/null
    assert run(prog, "c", 136, 7, "rw") == 1      # a pty
    assert run(prog, "b", 8, 0, "r") == 0         # a disk
    assert run(prog, "b", 8, 0, "m") == 1         # mknod is allowed, opening is not
    assert run(prog, "c", 4, 1, "rw") == 0        # a host tty
    assert run(prog, "c", 1, 3, "rwm") == 1


def test_last_rule_wins():
    rules = [{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 3,
                                                  "access": "w"}]
    prog = D.program(rules)
    assert run(prog, "c", 1, 3, "r") == 1
    assert run(prog, "c", 1, 3, "w") == 0
    assert run(prog, "b", 8, 0, "rw") == 1


def test_v1_lines():
    assert D.v1_lines(D.default_rules())[:4] == [
        ("devices.deny", "a"), ("devices.allow", "c *:* m"), ("devices.allow", "b *:* m"),
        ("devices.allow", "c 1:3 rwm")]
