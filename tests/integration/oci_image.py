"""An OCI image archive (image-spec v1.1 layout in a tar) from a root filesystem
directory: what the containerd and Docker tests import, nothing pulled."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile


def _blob(out: tarfile.TarFile, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    out.addfile(info, io.BytesIO(data))
    return f"sha256:{digest}", len(data)


def _file(out: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    out.addfile(info, io.BytesIO(data))


def write_archive(rootfs: str, path: str, ref: str, cmd: list[str] | None = None, docker: bool = False) -> None:
    """``ref`` (e.g. docker.io/library/x:latest) names the image in index.json (and,
    ``docker``: in a manifest.json, so ``docker load`` takes it too)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as layer:
        layer.add(rootfs, arcname=".")
    layer_tar = raw.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_tar).hexdigest()
    gz = gzip.compress(layer_tar, mtime=0)
    path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": cmd or ["sh"], "Env": [path_env]},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    with tarfile.open(path, "w") as out:
        layer_digest, layer_size = _blob(out, gz)
        cfg_digest, cfg_size = _blob(out, json.dumps(config).encode())
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest,
                               "size": cfg_size},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": layer_digest, "size": layer_size}]}
        man_digest, man_size = _blob(out, json.dumps(manifest).encode())
        index = {"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": man_digest, "size": man_size,
            "annotations": {"io.containerd.image.name": ref,
                            "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[-1]}}]}
        _file(out, "index.json", json.dumps(index).encode())
        _file(out, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        if docker:
            repo = ref.removeprefix("docker.io/library/").removeprefix("docker.io/")
            _file(out, "manifest.json", json.dumps([{
                "Config": f"blobs/sha256/{cfg_digest[7:]}", "RepoTags": [repo],
                "Layers": [f"blobs/sha256/{layer_digest[7:]}"]}]).encode())
    os.chmod(path, 0o644)
