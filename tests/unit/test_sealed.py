"""sealed.py: host binaries run from a sealed memfd copy (no privileges needed)."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys

import pytest

from nsbox.inspect import sealed


def test_shebang(tmp_path):
    s = tmp_path / "s"
    s.write_bytes(b"#!/bin/sh -e\necho hi\n")
    assert sealed.shebang(str(s)) == ["/bin/sh", "-e"]
    s.write_bytes(b"#! /usr/bin/env  python3 -u x\n")
    assert sealed.shebang(str(s)) == ["/usr/bin/env", "python3 -u x"]  # one argument, as binfmt_script
    s.write_bytes(b"\x7fELF")
    assert sealed.shebang(str(s)) is None


def test_resolve(tmp_path):
    exe = tmp_path / "tool"
    exe.write_bytes(b"#!/bin/sh\n")
    exe.chmod(0o644)
    with pytest.raises(OSError) as e:
        sealed.resolve("tool", str(tmp_path))
    assert e.value.errno == errno.EACCES
    exe.chmod(0o755)
    assert sealed.resolve("tool", f"/nonexistent:{tmp_path}") == f"{tmp_path}/tool"
    with pytest.raises(OSError) as e:
        sealed.resolve("no-such-tool", str(tmp_path))
    assert e.value.errno == errno.ENOENT


def test_copy_is_sealed():
    fd = sealed.sealed_copy("/bin/true")
    try:
        assert fcntl.fcntl(fd, fcntl.F_GET_SEALS) & sealed.SEALS == sealed.SEALS
        with open("/bin/true", "rb") as f:
            assert os.pread(fd, 1 << 20, 0) == f.read(1 << 20)
        with pytest.raises(PermissionError):
            os.pwrite(fd, b"x", 0)
    finally:
        os.close(fd)


def test_exec_sealed_runs_binaries_and_scripts(tmp_path):
    script = tmp_path / "hello"
    script.write_text("#!/bin/sh\necho \"$0 $1\"; readlink /proc/$$/exe\n")
    script.chmod(0o755)
    code = ("import sys; from nsbox.inspect.sealed import exec_sealed; exec_sealed(sys.argv[1:])")
    r = subprocess.run([sys.executable, "-c", code, str(script), "arg"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    first, exe = r.stdout.splitlines()
    assert first == f"{script} arg"
    assert exe.startswith("/memfd:")  # the interpreter ran from the sealed copy
