"""Images from and to files: OCI image layout directories, oci-archive (the layout
as a tar) and docker-archive (``docker save``'s manifest.json format).

Loading copies each blob into the store, verified against its descriptor (or,
for docker-archive layers, hashed as they come: their diff ids are checked
when they are unpacked), then records the image (manifest.commit).
"""

from __future__ import annotations

import os

from ..errors import ConfigError, NotFound
from . import manifest as M
from . import refs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .store import Image, Store

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


class Source:
    """Files of an archive or directory, by relative name."""

    def __init__(self, path: str, shown: str | None = None) -> None:
        self.path = path
        self.shown = shown or path
        self.tf = None
        self.members: dict[str, Any] = {}
        if os.path.isdir(path):
            return
        import tarfile

        try:
            self.tf = tarfile.open(path, "r:*")
            for m in self.tf.getmembers():
                self.members[os.path.normpath(m.name).lstrip("/")] = m
        except (OSError, tarfile.TarError) as e:
            reason = str(e).splitlines()[0].rstrip(":") if str(e) else type(e).__name__
            raise ConfigError(f"load `{self.shown}`: not an image archive (a tar file or an OCI layout "
                              f"directory): {reason}") from None

    def exists(self, name: str) -> bool:
        if self.tf is None:
            return os.path.isfile(self._fs(name))
        m = self.members.get(os.path.normpath(name))
        return m is not None and m.isfile()

    def _fs(self, name: str) -> str:
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise ConfigError(f"load `{self.path}`: `{name}` escapes the archive")
        return os.path.join(self.path, *parts)

    def open(self, name: str):
        if self.tf is None:
            try:
                return open(self._fs(name), "rb")
            except FileNotFoundError:
                raise ConfigError(f"load `{self.path}`: `{name}` is missing") from None
        m = self.members.get(os.path.normpath(name))
        if m is None:
            raise ConfigError(f"load `{self.path}`: `{name}` is missing")
        while m.issym() or m.islnk():  # docker save links identical layers
            target = m.linkname if m.islnk() else os.path.join(os.path.dirname(m.name), m.linkname)
            m = self.members.get(os.path.normpath(target).lstrip("/"))
            if m is None:
                raise ConfigError(f"load `{self.path}`: `{name}` links to a missing entry")
        f = self.tf.extractfile(m)
        if f is None:
            raise ConfigError(f"load `{self.path}`: `{name}` is not a file")
        return f

    def read(self, name: str, limit: int = 8 << 20) -> bytes:
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ConfigError(f"load `{self.path}`: `{name}` is larger than {limit} bytes")
        return data

    def close(self) -> None:
        if self.tf is not None:
            self.tf.close()


def load(store: Store, path: str, platform: str | None = None,
         shown: str | None = None) -> list[tuple[Image, list[str]]]:
    """Load every image of an archive or layout; [(image, notes)].  ``shown``: the name
    errors give the input (e.g. "stdin")."""
    if not os.path.exists(path):
        raise NotFound(f"load `{path}`: no such file or directory")
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise ConfigError(f"load `{shown or path}`: empty")
    src = Source(path, shown)
    try:
        with store.gc_lock(shared=True):
            if src.exists("manifest.json") and not src.exists("oci-layout"):
                return _load_docker(store, src)
            if src.exists("oci-layout") and src.exists("index.json"):
                return _load_oci(store, src, M.parse_platform(platform))
            if src.exists("manifest.json"):
                return _load_docker(store, src)
    finally:
        src.close()
    raise ConfigError(f"load `{path}`: neither an OCI layout (oci-layout, index.json) nor a docker archive "
                      "(manifest.json)")


def _blob_name(digest: str, what: str) -> str:
    refs.check_digest(digest, what)
    algo, _, hexpart = digest.partition(":")
    return f"blobs/{algo}/{hexpart}"


def _copy(store: Store, src: Source, desc: dict[str, Any], what: str) -> None:
    if store.has_blob(desc["digest"]):
        return
    with src.open(_blob_name(desc["digest"], what)) as f:
        store.put_stream(f, desc["digest"], desc["size"], f"{what} {desc['digest']}")


def _load_oci(store: Store, src: Source, platform) -> list[tuple[Image, list[str]]]:
    index = M.parse_json(src.read("index.json"), f"load `{src.path}`: index.json")
    entries = index.get("manifests")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"load `{src.path}`: index.json lists no manifests")
    out = []
    for i, desc in enumerate(entries):
        desc = M.descriptor(desc, f"load `{src.path}`: index.json manifest {i}")
        ann = desc.get("annotations") or {}
        names = _names(ann)
        digest = desc["digest"]
        if desc.get("mediaType") in M.INDEXES:
            _copy(store, src, desc, "index")
            inner = M.parse_json(store.read_blob(digest), f"index {digest}")
            desc = M.choose(inner, platform, f"index {digest}")
            digest = desc["digest"]
        _copy(store, src, desc, "manifest")
        doc = M.parse_json(store.read_blob(digest), f"manifest {digest}")
        M.check_manifest(doc, M.agreed_type(doc, desc.get("mediaType"), f"manifest {digest}"), f"manifest {digest}")
        _copy(store, src, doc["config"], "config")
        for layer in doc["layers"]:
            _copy(store, src, layer, "layer")
        out.append(M.commit(store, digest, names))
    return out


def _names(ann: dict[str, Any]) -> list[str]:
    """A full reference from the annotations (a bare tag names nothing: the file has no repository)."""
    for key in (CONTAINERD_NAME, REF_NAME):
        v = ann.get(key)
        if isinstance(v, str) and ("/" in v or ":" in v) and refs.looks_like_reference(v):
            r = refs.parse(v)
            return [str(r.qualified("localhost") if r.short else r.qualified())]
    return []


def _load_docker(store: Store, src: Source) -> list[tuple[Image, list[str]]]:
    entries = M.jsonio.loads(src.read("manifest.json")) if src.exists("manifest.json") else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"load `{src.path}`: manifest.json is not a list of images")
    out = []
    for i, e in enumerate(entries):
        what = f"load `{src.path}`: manifest.json image {i}"
        if not isinstance(e, dict) or not isinstance(e.get("Config"), str) or not isinstance(e.get("Layers"), list):
            raise ConfigError(f"{what}: needs Config and Layers")
        config = src.read(e["Config"])
        cfg_digest = store.put_bytes(config)
        layers = []
        for name in e["Layers"]:
            if not isinstance(name, str):
                raise ConfigError(f"{what}: a layer name is not a string")
            with src.open(name) as f:
                digest, size, kind = _put_unknown(store, f, f"{what}: layer `{name}`")
            mt = M.OCI_TAR + ("+gzip" if kind == "gzip" else "+zstd" if kind == "zstd" else "")
            layers.append({"mediaType": mt, "digest": digest, "size": size})
        doc = {"schemaVersion": 2, "mediaType": M.OCI_MANIFEST,
               "config": {"mediaType": M.OCI_CONFIG, "digest": cfg_digest, "size": len(config)},
               "layers": layers}
        mdigest = store.put_bytes(M.jsonio.dumps(doc).encode())
        names = []
        for tag in e.get("RepoTags") or []:
            if isinstance(tag, str) and refs.looks_like_reference(tag):
                names.append(str(refs.parse(tag).qualified()))
        out.append(M.commit(store, mdigest, names))
    return out


def _put_unknown(store: Store, f, what: str) -> tuple[str, int, str]:
    """Copy a blob whose digest is not known beforehand; (digest, size, compression)."""
    import hashlib

    from .layers import compression

    h = hashlib.sha256()
    n = 0
    t = store.temp()
    try:
        kind = ""
        with os.fdopen(os.dup(t.fd), "wb") as out:
            while chunk := f.read(1 << 20):
                if not kind:
                    kind = compression(chunk[:4])
                h.update(chunk)
                n += len(chunk)
                out.write(chunk)
        digest = "sha256:" + h.hexdigest()
        if not store.has_blob(digest):
            store.adopt(t.path, digest)
            t.path = ""
        return digest, n, kind or "none"
    finally:
        t.close()


def save(store: Store, images: list[tuple[Image, str | None]], dest: str, fmt: str = "oci-archive") -> None:
    """Write images (with the name to record) as an oci-archive (tar), an oci-dir layout, or a
    docker-archive (the OCI layout plus docker's manifest.json, as Docker 25 writes it)."""
    if fmt not in ("oci-archive", "oci-dir", "docker-archive"):
        raise ConfigError(f"save --format `{fmt}`: expected oci-archive, docker-archive or oci-dir")
    manifests = []
    blobs: list[str] = []
    for img, name in images:
        desc = {"mediaType": M.OCI_MANIFEST, "digest": img.record["manifest"],
                "size": len(store.read_blob(img.record["manifest"]))}
        doc = M.parse_json(store.read_blob(img.record["manifest"]), "manifest")
        desc["mediaType"] = M.media_type(doc, None)
        if name:
            desc["annotations"] = {REF_NAME: name, CONTAINERD_NAME: name}
        manifests.append(desc)
        blobs += [img.record["manifest"], img.record["config"]] + [x["digest"] for x in img.layers]
    index = {"schemaVersion": 2, "mediaType": M.OCI_INDEX, "manifests": manifests}
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": M.jsonio.dumps(index).encode()}
    if fmt == "docker-archive":
        files["manifest.json"] = M.jsonio.dumps([
            {"Config": _blob_name(img.record["config"], "config"), "RepoTags": [name] if name else [],
             "Layers": [_blob_name(x["digest"], "layer") for x in img.layers]} for img, name in images]).encode()
    if fmt == "oci-dir":
        _save_dir(store, dest, files, list(dict.fromkeys(blobs)))
    else:
        _save_tar(store, dest, files, list(dict.fromkeys(blobs)))


def _save_dir(store: Store, dest: str, files: dict[str, bytes], blobs: list[str]) -> None:
    import shutil

    os.makedirs(f"{dest}/blobs/sha256", exist_ok=True)
    for d in blobs:
        shutil.copyfile(store.blob_path(d), f"{dest}/{_blob_name(d, 'blob')}")
    for name, data in files.items():
        with open(f"{dest}/{name}", "wb") as f:
            f.write(data)


def _save_tar(store: Store, dest: str, files: dict[str, bytes], blobs: list[str]) -> None:
    import io
    import tarfile

    tmp = f"{dest}.{os.getpid()}.tmp"
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tf:
            for d in ("blobs", "blobs/sha256"):
                ti = tarfile.TarInfo(d)
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
            for d in blobs:
                tf.add(store.blob_path(d), _blob_name(d, "blob"), recursive=False)
            for name, data in files.items():
                ti = tarfile.TarInfo(name)
                ti.size, ti.mode = len(data), 0o644
                tf.addfile(ti, io.BytesIO(data))
        os.rename(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
