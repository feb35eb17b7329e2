"""A container's changes as a layer: its overlay upper directory as a tar, with
overlayfs's whiteouts written as OCI's (a 0/0 character device NAME -> ``.wh.NAME``,
an ``overlay.opaque`` directory -> ``.wh..wh..opq`` in it) and ids written as the
container sees them.  ``commit`` makes it the top layer of a new image; ``export``
writes it to a file."""

from __future__ import annotations

import os
import stat
import tarfile
import time

from ..errors import ConfigError, NotFound
from . import manifest as M

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .store import Image, Store

OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")


class _HashingWriter:
    def __init__(self, out) -> None:
        import hashlib

        self.out, self.h, self.n = out, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.h.update(data)
        self.n += len(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()


def _opaque(path: str) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _inverse(maps: list[tuple[int, int, int]] | None):
    """host id -> the container's id (unmapped ids stay as they are)."""
    def back(host_id: int) -> int:
        for inside, outside, n in maps or ():
            if outside <= host_id < outside + n:
                return inside + host_id - outside
        return host_id

    return back


def write_layer(upper: str, out, uid_maps=None, gid_maps=None, mount_points: frozenset[str] = frozenset()) -> None:
    """The upper directory as a layer tar (stream) written to ``out``.  Empty files and
    directories at ``mount_points`` (relative paths) are the runtime's mount targets
    (/etc/hosts, /proc...), not changes: they are left out, as Docker does."""
    uid, gid = _inverse(uid_maps), _inverse(gid_maps)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(upper):
            dirnames.sort()
            rel = os.path.relpath(dirpath, upper)
            prefix = "" if rel == "." else rel + "/"
            if prefix and _opaque(dirpath):
                tf.addfile(_whiteout(prefix + ".wh..wh..opq"))
            for name in sorted(filenames) + [d for d in dirnames if os.path.islink(f"{dirpath}/{d}")]:
                if not _mount_stub(f"{dirpath}/{name}", prefix + name, mount_points):
                    _add(tf, f"{dirpath}/{name}", prefix + name, uid, gid)
            for d in dirnames:
                if not os.path.islink(f"{dirpath}/{d}") and not _mount_stub(f"{dirpath}/{d}", prefix + d, mount_points):
                    _add(tf, f"{dirpath}/{d}", prefix + d, uid, gid)


def _mount_stub(path: str, rel: str, mount_points: frozenset[str]) -> bool:
    if rel not in mount_points:
        return False
    st = os.lstat(path)
    return (stat.S_ISREG(st.st_mode) and st.st_size == 0) or (stat.S_ISDIR(st.st_mode) and not os.listdir(path))


def _whiteout(name: str) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mode, ti.mtime = 0o600, int(time.time())
    return ti


def _add(tf: tarfile.TarFile, path: str, arcname: str, uid, gid) -> None:
    st = os.lstat(path)
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:  # overlayfs whiteout
        d, _, base = arcname.rpartition("/")
        tf.addfile(_whiteout(f"{d}/.wh.{base}" if d else f".wh.{base}"))
        return
    ti = tf.gettarinfo(path, arcname)
    ti.uid, ti.gid = uid(st.st_uid), gid(st.st_gid)
    ti.uname = ti.gname = ""
    if ti.isreg():
        with open(path, "rb") as f:
            tf.addfile(ti, f)
    else:
        tf.addfile(ti)


def container_layer(c_path: str, config: dict[str, Any]) -> tuple[str, list, list, frozenset[str]]:
    """The upper directory of a container made from an image, its id maps (as ranges) and
    its mount points (relative paths)."""
    upper = f"{c_path}/upper"
    if not os.path.isdir(upper):
        raise ConfigError("the container has no upper directory (it was not run from an image)")
    linux = config.get("linux") or {}
    maps = [[(m["containerID"], m["hostID"], m["size"]) for m in linux.get(k) or []]
            for k in ("uidMappings", "gidMappings")]
    points = frozenset(m["destination"].strip("/") for m in config.get("mounts") or []
                       if isinstance(m.get("destination"), str))
    return upper, maps[0], maps[1], points


def commit(store: Store, base_id: str, upper: str, uid_maps, gid_maps, names: list[str],
           comment: str = "nsbox commit", mount_points: frozenset[str] = frozenset()) -> Image:
    """A new image: the base image plus the upper directory as its top layer."""
    import gzip

    base = store.lookup(base_id)
    store.ensure()
    with store.gc_lock(shared=True):
        t = store.temp()
        try:
            with os.fdopen(os.dup(t.fd), "wb") as f:
                blob_w = _HashingWriter(f)
                with gzip.GzipFile(fileobj=blob_w, mode="wb", mtime=0, compresslevel=6) as gz:
                    diff_w = _HashingWriter(gz)
                    write_layer(upper, diff_w, uid_maps, gid_maps, mount_points)
            blob = "sha256:" + blob_w.h.hexdigest()
            diff_id = "sha256:" + diff_w.h.hexdigest()
            if not store.has_blob(blob):
                store.adopt(t.path, blob)
                t.path = ""
        finally:
            t.close()
        store.ensure_layer(blob, diff_id, "committed layer")
        cfg = M.parse_json(store.read_blob(base.record["config"]), "base config")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        cfg["created"] = now
        cfg["rootfs"] = {"type": "layers", "diff_ids": base.diff_ids + [diff_id]}
        cfg["history"] = list(cfg.get("history") or []) + [{"created": now, "created_by": comment}]
        cfg_bytes = M.jsonio.dumps(cfg).encode()
        cfg_digest = store.put_bytes(cfg_bytes)
        layers = [{"mediaType": _oci_layer_type(x["mediaType"]), "digest": x["digest"], "size": x["size"]}
                  for x in base.layers]
        layers.append({"mediaType": M.OCI_TAR + "+gzip", "digest": blob, "size": blob_w.n})
        doc = {"schemaVersion": 2, "mediaType": M.OCI_MANIFEST,
               "config": {"mediaType": M.OCI_CONFIG, "digest": cfg_digest, "size": len(cfg_bytes)},
               "layers": layers}
        mdigest = store.put_bytes(M.jsonio.dumps(doc).encode())
        img, _ = M.commit(store, mdigest, names)
        return img


def _oci_layer_type(mt: str) -> str:
    return M.OCI_TAR + "+gzip" if mt.startswith("application/vnd.docker.") else mt


def export(upper: str, out, uid_maps, gid_maps, mount_points: frozenset[str] = frozenset()) -> None:
    if not os.path.isdir(upper):
        raise NotFound(f"export: `{upper}`: no such directory")
    write_layer(upper, out, uid_maps, gid_maps, mount_points)
