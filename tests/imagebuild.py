"""Build small OCI images in Python for the image tests (layouts, archives, bad blobs)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_bytes(entries) -> bytes:
    """entries: (name, kind, extra): file/exe (content), dir, sym (target), hard (target), chr (major, minor)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, extra in entries:
            ti = tarfile.TarInfo(name)
            ti.mode = 0o755 if kind in ("dir", "exe") else 0o644
            data = None
            if kind in ("file", "exe"):
                payload = extra.encode() if isinstance(extra, str) else extra
                ti.size = len(payload)
                data = io.BytesIO(payload)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, extra
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, extra
            elif kind == "chr":
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = extra
            tf.addfile(ti, data)
    return buf.getvalue()


class Layout:
    """An OCI image layout directory being written."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(f"{path}/blobs/sha256", exist_ok=True)
        with open(f"{path}/oci-layout", "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        self.manifests: list[dict] = []

    def blob(self, data: bytes) -> str:
        d = sha(data)
        with open(f"{self.path}/blobs/sha256/{d[7:]}", "wb") as f:
            f.write(data)
        return d

    def image(self, layers: list[bytes], config: dict | None = None, name: str | None = None,
              compress: bool = True, platform=("linux", "amd64"), add: bool = True) -> dict:
        descs, diff_ids = [], []
        for raw in layers:
            diff_ids.append(sha(raw))
            data = gzip.compress(raw, mtime=0) if compress else raw
            descs.append({"mediaType": OCI_LAYER + ("+gzip" if compress else ""), "digest": self.blob(data),
                          "size": len(data)})
        cfg = {"architecture": platform[1], "os": platform[0], "config": config or {"Cmd": ["/bin/sh"]},
               "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        cfg_data = json.dumps(cfg).encode()
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": self.blob(cfg_data), "size": len(cfg_data)},
                    "layers": descs}
        mdata = json.dumps(manifest).encode()
        desc = {"mediaType": OCI_MANIFEST, "digest": self.blob(mdata), "size": len(mdata),
                "platform": {"os": platform[0], "architecture": platform[1]}}
        if name:
            desc["annotations"] = {"org.opencontainers.image.ref.name": name}
        if add:
            self.manifests.append(desc)
        return desc

    def index(self, descs: list[dict], name: str | None = None) -> dict:
        data = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs}).encode()
        desc = {"mediaType": OCI_INDEX, "digest": self.blob(data), "size": len(data)}
        if name:
            desc["annotations"] = {"org.opencontainers.image.ref.name": name}
        self.manifests.append(desc)
        return desc

    def write(self) -> str:
        with open(f"{self.path}/index.json", "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.manifests}, f)
        return self.path


def busybox_layer(busybox: str = "/bin/busybox", applets=("sh", "ls", "cat", "echo", "id", "true", "env",
                                                         "pwd", "test", "sleep", "stat")) -> bytes:
    with open(busybox, "rb") as f:
        bb = f.read()
    entries = [("bin", "dir", None), ("bin/busybox", "exe", bb), ("etc", "dir", None),
               ("etc/passwd", "file", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"),
               ("etc/group", "file", "root:x:0:\nuser:x:1000:\n"), ("tmp", "dir", None), ("root", "dir", None)]
    entries += [(f"bin/{a}", "sym", "busybox") for a in applets]
    return tar_bytes(entries)
