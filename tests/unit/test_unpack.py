"""Safe tar unpacking (no privileges: ownership is not preserved here)."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from nsbox.image.unpack import UnsafeEntry, symlink_escapes, unpack


def make(path, entries):
    with tarfile.open(path, "w") as tf:
        for name, kind, extra in entries:
            ti = tarfile.TarInfo(name)
            ti.mode = 0o755 if kind == "dir" else 0o644
            data = None
            if kind == "file":
                payload = extra.encode() if isinstance(extra, str) else (extra or b"x")
                ti.size = len(payload)
                data = io.BytesIO(payload)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, extra
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, extra
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            tf.addfile(ti, data)


def test_normal_rootfs(tmp_path):
    tar = tmp_path / "r.tar"
    make(tar, [("bin", "dir", None), ("bin/busybox", "file", "BB"), ("bin/sh", "sym", "/bin/busybox"),
               ("bin/ls", "hard", "bin/busybox"), ("./etc/", "dir", None), ("etc/passwd", "file", "root"),
               ("usr/lib/deep/file", "file", "implicit parents"), ("run/fifo", "fifo", None),
               ("lib", "sym", "usr/lib")])
    dest = tmp_path / "out"
    dest.mkdir()
    unpack(str(tar), str(dest), preserve_owner=False)
    assert (dest / "bin/busybox").read_text() == "BB"
    assert os.readlink(dest / "bin/sh") == "/bin/busybox"  # absolute: the container's own /bin
    assert os.stat(dest / "bin/ls").st_ino == os.stat(dest / "bin/busybox").st_ino
    assert (dest / "usr/lib/deep/file").read_text() == "implicit parents"
    assert os.readlink(dest / "lib") == "usr/lib"


@pytest.mark.parametrize("entries,msg", [
    ([("../evil", "file", "x")], "escapes the target directory"),
    ([("a/../../evil", "file", "x")], "escapes the target directory"),
    ([("/etc/evil", "file", "x")], "absolute path"),
    ([("link", "sym", "../../.."), ], "points outside the root"),
    ([("a/b/link", "sym", "../../../x")], "points outside the root"),
    ([("link", "sym", "/"), ("link/etc/evil", "file", "x")], "is a symlink"),
    ([("d", "dir", None), ("d/l", "sym", "/tmp"), ("d/l/evil", "file", "x")], "is a symlink"),
    ([("h", "hard", "../../etc/passwd")], "escapes the target directory"),
    ([("h", "hard", "/etc/passwd")], "absolute path"),
    ([("h", "hard", "missing")], "not in the archive before it"),
    ([("l", "sym", "/etc"), ("h", "hard", "l/passwd")], "is a symlink"),
])
def test_traversal_refused(tmp_path, entries, msg):
    tar = tmp_path / "evil.tar"
    make(tar, entries)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeEntry, match=msg):
        unpack(str(tar), str(dest), preserve_owner=False)
    assert not (tmp_path / "evil").exists()


def test_symlink_escape_rule():
    assert not symlink_escapes(["a", "b", "l"], "../x")
    assert not symlink_escapes(["a", "l"], "../x")
    assert symlink_escapes(["l"], "../x")
    assert not symlink_escapes(["l"], "/anything")


def test_not_a_tarball(tmp_path):
    p = tmp_path / "junk"
    p.write_bytes(b"not a tar")
    from nsbox.errors import ConfigError

    with pytest.raises(ConfigError, match="not a readable tar archive"):
        unpack(str(p), str(tmp_path), preserve_owner=False)
