"""Layer unpacking (whiteouts, devices, the size cap) and the store (blobs, layers, temp files)."""

from __future__ import annotations

import gzip
import io
import os
import stat

import pytest

from nsbox.errors import ConfigError, NotFound
from nsbox.image import archive, manifest
from nsbox.image.store import Store
from nsbox.image.unpack import TooLarge, UnsafeEntry, unpack_layer
from tests.imagebuild import Layout, sha, tar_bytes


def unpack(tmp_path, entries, **kw):
    dest = tmp_path / "layer"
    dest.mkdir(exist_ok=True)
    notes = unpack_layer(io.BytesIO(tar_bytes(entries)), str(dest), "test layer", preserve_owner=False, **kw)
    return dest, notes


def test_whiteouts_become_overlayfs_ones(tmp_path):
    dest, _ = unpack(tmp_path, [("etc", "dir", None), ("etc/.wh.motd", "file", ""), ("var/cache", "dir", None),
                                ("var/cache/.wh..wh..opq", "file", ""), ("var/cache/kept", "file", "k")])
    st = os.lstat(dest / "etc/motd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert not (dest / "etc/.wh.motd").exists()
    assert os.getxattr(dest / "var/cache", "user.overlay.opaque") == b"y"
    assert not (dest / "var/cache/.wh..wh..opq").exists()
    assert (dest / "var/cache/kept").read_text() == "k"


def test_whiteout_of_own_entry_keeps_it(tmp_path):
    dest, _ = unpack(tmp_path, [("a", "file", "mine"), (".wh.a", "file", "")])
    assert (dest / "a").read_text() == "mine"


@pytest.mark.parametrize("entries,msg", [
    ([(".wh...", "file", "")], "not a name in its directory"),
    ([("d/.wh..", "file", "")], "not a name in its directory"),
    ([(".wh.", "file", "")], "not a name in its directory"),
    ([(".wh..wh.x", "file", "")], "not a name in its directory"),
    ([("../.wh.etc", "file", "")], "escapes the target directory"),
    ([("/.wh.etc", "file", "")], "absolute path"),
    ([("l", "sym", "/etc"), ("l/.wh.passwd", "file", "")], "is a symlink"),
    ([("l", "sym", "/"), ("l/.wh..wh..opq", "file", "")], "is a symlink"),
    ([("../x", "file", "x")], "escapes the target directory"),
    ([("l", "sym", "/tmp"), ("l/evil", "file", "x")], "is a symlink"),
    ([("h", "hard", "../../etc/passwd")], "escapes the target directory"),
    ([("h", "hard", "/etc/shadow")], "absolute path"),
])
def test_bad_layers_refused(tmp_path, entries, msg):
    with pytest.raises(UnsafeEntry, match=msg):
        unpack(tmp_path, entries)
    assert not (tmp_path / "x").exists() and not (tmp_path / "etc").exists()


def test_devices_skipped_with_a_note_when_unprivileged(tmp_path):
    dest, notes = unpack(tmp_path, [("dev", "dir", None), ("dev/null", "chr", (1, 3)), ("dev/sda", "chr", (8, 0))])
    assert not (dest / "dev/null").exists()
    assert any("dev/null" in n and "skipped" in n for n in notes)


def test_size_cap_stops_a_bomb(tmp_path):
    with pytest.raises(TooLarge, match="exceeds the limit of 1000 bytes"):
        unpack(tmp_path, [("big", "file", b"\0" * 5000)], limit=1000)


def gz_layer_store(tmp_path, raw: bytes, diff_id: str | None = None, limit: int = 1 << 30):
    store = Store(str(tmp_path / "store"), max_layer_size=limit).ensure()
    data = gzip.compress(raw)
    blob = store.put_bytes(data)
    return store, blob, diff_id or sha(raw)


def test_gzip_bomb_refused_and_nothing_kept(tmp_path):
    raw = tar_bytes([("zeros", "file", b"\0" * (4 << 20))])
    store, blob, diff = gz_layer_store(tmp_path, raw, limit=1 << 20)
    assert os.path.getsize(store.blob_path(blob)) < 10000  # 4 MiB of zeros compress to a few kB
    with pytest.raises(TooLarge):
        store.ensure_layer(blob, diff, "layer")
    assert os.listdir(f"{store.root}/layers") == [] and os.listdir(f"{store.root}/tmp") == []


def test_diff_id_mismatch_keeps_nothing(tmp_path):
    store, blob, _ = gz_layer_store(tmp_path, tar_bytes([("f", "file", "x")]))
    with pytest.raises(ConfigError, match="diff id mismatch"):
        store.ensure_layer(blob, "sha256:" + "0" * 64, "layer")
    assert os.listdir(f"{store.root}/layers") == [] and os.listdir(f"{store.root}/tmp") == []


def test_layer_unpacked_once(tmp_path):
    store, blob, diff = gz_layer_store(tmp_path, tar_bytes([("f", "file", "x")]))
    store.ensure_layer(blob, diff, "layer")
    assert (tmp_path / "store/layers" / diff[7:] / "f").read_text() == "x"
    os.utime(store.layer_path(diff), (1, 1))
    store.ensure_layer(blob, diff, "layer")
    assert os.stat(store.layer_path(diff)).st_mtime == 1


def test_put_stream_verifies_digest_and_size(tmp_path):
    store = Store(str(tmp_path / "s")).ensure()
    data = b"hello"
    with pytest.raises(ConfigError, match="digest mismatch"):
        store.put_stream(io.BytesIO(data), sha(b"other"), 5, "blob")
    with pytest.raises(ConfigError, match="size mismatch"):
        store.put_stream(io.BytesIO(data), sha(data), 6, "blob")
    with pytest.raises(ConfigError, match="more than the 4 bytes"):
        store.put_stream(io.BytesIO(data), sha(data), 4, "blob")
    assert os.listdir(f"{store.root}/blobs/sha256") == [] and os.listdir(f"{store.root}/tmp") == []
    store.put_stream(io.BytesIO(data), sha(data), 5, "blob")
    assert store.read_blob(sha(data)) == data


def test_collect_tmp_removes_only_dead_writers(tmp_path):
    store = Store(str(tmp_path / "s")).ensure()
    live = store.temp(directory=True)
    dead = f"{store.root}/tmp/4194305-dead"
    os.mkdir(dead)
    open(f"{dead}/half-written", "w").close()
    starting = f"{store.root}/tmp/{os.getppid()}-just-made"  # a live writer that has not locked it yet
    os.mkdir(starting)
    assert store.collect_tmp() == 1  # (pid 4194305 is above the kernel's pid_max: never alive)
    assert os.path.isdir(live.path) and not os.path.exists(dead) and os.path.isdir(starting)
    os.rmdir(starting)
    live.close()
    assert os.listdir(f"{store.root}/tmp") == []


def test_load_layout_and_wrong_media_type(tmp_path):
    lay = Layout(str(tmp_path / "lay"))
    lay.image([tar_bytes([("a", "file", "1")]), tar_bytes([(".wh.a", "file", "")])], name="example.com/x:1")
    lay.write()
    store = Store(str(tmp_path / "s")).ensure()
    [(img, _)] = archive.load(store, lay.path)
    assert img.names == ["example.com/x:1"] and len(img.layers) == 2
    assert store.lookup("example.com/x:1").id == img.id
    assert store.lookup(img.id[7:19]).id == img.id
    with pytest.raises(NotFound):
        store.lookup("example.com/x:2")
    # a manifest claiming to be a config
    bad = Layout(str(tmp_path / "bad"))
    d = bad.image([tar_bytes([("a", "file", "1")])])
    d["mediaType"] = manifest.OCI_CONFIG
    bad.write()
    with pytest.raises(ConfigError, match="is not an image manifest"):
        archive.load(store, bad.path)


def test_blob_size_mismatch_in_layout(tmp_path):
    lay = Layout(str(tmp_path / "lay"))
    d = lay.image([tar_bytes([("a", "file", "1")])])
    d["size"] += 1
    lay.write()
    store = Store(str(tmp_path / "s")).ensure()
    with pytest.raises(ConfigError, match="size mismatch"):
        archive.load(store, lay.path)
    assert store.images() == []


def test_index_chooses_platform(tmp_path):
    lay = Layout(str(tmp_path / "lay"))
    amd = lay.image([tar_bytes([("arch", "file", "amd64")])], add=False)
    arm = lay.image([tar_bytes([("arch", "file", "arm64")])], platform=("linux", "arm64"), add=False)
    lay.index([amd, arm], name="example.com/multi:1")
    lay.write()
    store = Store(str(tmp_path / "s")).ensure()
    [(img, _)] = archive.load(store, lay.path, platform="linux/arm64")
    assert img.record["manifest"] == arm["digest"]
    with pytest.raises(ConfigError, match="no image for linux/s390x"):
        archive.load(store, lay.path, platform="linux/s390x")


def test_remove_sweeps_unshared_content(tmp_path):
    base = tar_bytes([("base", "file", "b")])
    lay = Layout(str(tmp_path / "lay"))
    lay.image([base], name="example.com/one:1")
    lay.image([base, tar_bytes([("top", "file", "t")])], name="example.com/two:1")
    lay.write()
    store = Store(str(tmp_path / "s")).ensure()
    (one, _), (two, _) = archive.load(store, lay.path)
    store.remove(two.id)
    assert os.listdir(f"{store.root}/layers") == [sha(base)[7:]]
    store.remove(one.id)
    assert os.listdir(f"{store.root}/layers") == [] and os.listdir(f"{store.root}/blobs/sha256") == []


def test_tag_moves_names(tmp_path):
    lay = Layout(str(tmp_path / "lay"))
    lay.image([tar_bytes([("a", "file", "1")])], name="example.com/a:1")
    lay.image([tar_bytes([("b", "file", "2")])], name="example.com/b:1")
    lay.write()
    store = Store(str(tmp_path / "s")).ensure()
    (a, _), (b, _) = archive.load(store, lay.path)
    store.tag("example.com/a:1", "mine")
    assert store.lookup("mine").id == a.id  # short name: localhost/mine:latest
    store.tag("example.com/b:1", "mine")
    assert store.lookup("localhost/mine:latest").id == b.id
    assert "localhost/mine:latest" not in store.lookup(a.id).names


def test_zstd_layer(tmp_path):
    import shutil
    import subprocess

    if shutil.which("zstd") is None:
        pytest.fail("zstd is not installed (scripts/test installs it)")
    raw = tar_bytes([("z", "file", "zstd content")])
    data = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
    store = Store(str(tmp_path / "s")).ensure()
    blob = store.put_bytes(data)
    store.ensure_layer(blob, sha(raw), "layer")
    assert (tmp_path / "s/layers" / sha(raw)[7:] / "z").read_text() == "zstd content"
    # a corrupt zstd stream: refused, nothing kept
    bad = store.put_bytes(data[:-8] + b"\0" * 8)
    with pytest.raises(ConfigError):
        store.ensure_layer(bad, sha(raw + b"x"), "layer")
    assert os.listdir(f"{store.root}/tmp") == []


def test_sweep_removes_the_digest_locks_of_what_it_removed(tmp_path):
    # one empty lock file per digest ever pulled or unpacked: without this they
    # outlive their blobs and layers (rmi, image prune -a) and accumulate forever
    store, blob, diff = gz_layer_store(tmp_path, tar_bytes([("f", "file", "x")]))
    store.ensure_layer(blob, diff, "layer")
    with store.digest_lock(blob):
        pass
    assert sorted(os.listdir(f"{store.root}/locks")) == sorted([blob[7:], diff[7:]])
    store.sweep()
    assert os.listdir(f"{store.root}/locks") == [] and os.listdir(f"{store.root}/layers") == []
