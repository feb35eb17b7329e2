"""Manifests, indexes and configs (OCI image-spec 1.1 and Docker's v2 schema 2 equivalents):
validated, a platform chosen, and an image recorded in the store once its layers are unpacked.
"""

from __future__ import annotations

import os

from .. import jsonio
from ..errors import ConfigError
from . import refs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .store import Image, Store

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_LIST)
CONFIGS = (OCI_CONFIG, DOCKER_CONFIG)
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYERS = (OCI_TAR, OCI_TAR + "+gzip", OCI_TAR + "+zstd",
          "application/vnd.oci.image.layer.nondistributable.v1.tar",
          "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
          "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
          "application/vnd.docker.image.rootfs.diff.tar.gzip",
          "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
ACCEPT = ", ".join(MANIFESTS + INDEXES)


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        obj = jsonio.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"{what}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"{what}: not a JSON object")
    return obj


MAX_CONFIG = 4 << 20  # as containers/image (iolimits.MaxConfigBodySize)


def descriptor(d: object, what: str) -> dict[str, Any]:
    if not isinstance(d, dict) or not isinstance(d.get("digest"), str) or not isinstance(d.get("size"), int) \
            or isinstance(d.get("size"), bool) or d["size"] < 0:
        raise ConfigError(f"{what}: a descriptor needs a digest and a size")
    refs.check_digest(d["digest"], f"{what}: digest")
    return d


def media_type(doc: dict[str, Any], header: str | None) -> str:
    """The document's mediaType (or the Content-Type it came with, for OCI documents without one)."""
    mt = doc.get("mediaType")
    if isinstance(mt, str) and mt:
        return mt
    if header:
        return header.split(";")[0].strip()
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST


def agreed_type(doc: dict[str, Any], declared: str | None, what: str) -> str:
    """The media type, which the document and what pointed at it (descriptor, Content-Type) agree on."""
    own = doc.get("mediaType")
    declared = declared.split(";")[0].strip() if declared else None
    if own and declared and own != declared:
        raise ConfigError(f"{what}: media type `{declared}` is not an image manifest or index (the document "
                          f"says `{own}`)" if declared not in MANIFESTS + INDEXES else
                          f"{what}: media type `{declared}` declared, the document says `{own}`")
    return media_type(doc, declared)


def check_manifest(doc: dict[str, Any], mt: str, what: str) -> dict[str, Any]:
    if mt not in MANIFESTS:
        raise ConfigError(f"{what}: media type `{mt}` is not an image manifest (expected one of "
                          f"{', '.join(MANIFESTS)})")
    if doc.get("schemaVersion") != 2:
        raise ConfigError(f"{what}: schemaVersion {doc.get('schemaVersion')!r}, expected 2")
    cfg = descriptor(doc.get("config"), f"{what}: config")
    if cfg.get("mediaType") not in CONFIGS:
        raise ConfigError(f"{what}: config media type `{cfg.get('mediaType')}` is not an image config")
    if cfg["size"] > MAX_CONFIG:  # read whole into memory: bounded before it is fetched
        raise ConfigError(f"{what}: config of {cfg['size']} bytes (more than 4 MiB)")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ConfigError(f"{what}: no layers list")
    for i, layer in enumerate(layers):
        descriptor(layer, f"{what}: layer {i}")
        if layer.get("mediaType") not in LAYERS:
            raise ConfigError(f"{what}: layer {i} media type `{layer.get('mediaType')}` is not a layer this "
                              "store can unpack")
    return doc


def check_config(doc: dict[str, Any], n_layers: int, what: str) -> list[str]:
    """The config's diff ids (one per layer)."""
    rootfs = doc.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise ConfigError(f"{what}: no rootfs.diff_ids")
    if len(diff_ids) != n_layers:
        raise ConfigError(f"{what}: {len(diff_ids)} diff ids for {n_layers} layers")
    for d in diff_ids:
        refs.check_digest(d, f"{what}: diff id")
    return diff_ids


def host_platform() -> tuple[str, str, str]:
    machine = os.uname().machine
    arch, variant = {"x86_64": ("amd64", ""), "aarch64": ("arm64", "v8"), "armv7l": ("arm", "v7"),
                     "armv6l": ("arm", "v6"), "i686": ("386", ""), "i386": ("386", ""),
                     "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""),
                     "riscv64": ("riscv64", "")}.get(machine, (machine, ""))
    return "linux", arch, variant


def parse_platform(text: str | None) -> tuple[str, str, str]:
    if not text:
        return host_platform()
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ConfigError(f"--platform `{text}`: expected OS/ARCH[/VARIANT] (e.g. linux/arm64)")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def choose(index: dict[str, Any], platform: tuple[str, str, str], what: str) -> dict[str, Any]:
    """The index entry for ``platform`` (a missing variant matches any, arm64's v8 too)."""
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise ConfigError(f"{what}: an index without a manifests list")
    os_, arch, variant = platform
    found = []
    for i, e in enumerate(entries):
        descriptor(e, f"{what}: manifest {i}")
        p = e.get("platform") or {}
        if p.get("os") == os_ and p.get("architecture") == arch:
            v = p.get("variant") or ""
            if not variant or not v or v == variant:
                found.append((v != variant, e))
    if not found:
        have = sorted({f"{(e.get('platform') or {}).get('os')}/{(e.get('platform') or {}).get('architecture')}"
                       for e in entries})
        raise ConfigError(f"{what}: no image for {'/'.join(x for x in platform if x)} (it has: "
                          f"{', '.join(have) or 'none'}; choose with --platform)")
    found.sort(key=lambda t: t[0])
    return found[0][1]


def commit(store: Store, manifest_digest: str, names: list[str], digests: list[str] = (),
           progress=None, extra_blobs: list[str] = ()) -> tuple[Image, list[str]]:
    """Unpack the layers of a manifest whose blobs are in the store, then record the image.
    Returns it and the notes of entries skipped while unpacking."""
    what = f"manifest {manifest_digest}"
    doc = parse_json(store.read_blob(manifest_digest), what)
    check_manifest(doc, media_type(doc, None), what)
    cfg_desc = doc["config"]
    config = parse_json(store.read_blob(cfg_desc["digest"]), f"config {cfg_desc['digest']}")
    diff_ids = check_config(config, len(doc["layers"]), f"config {cfg_desc['digest']}")
    notes: list[str] = []
    layers = []
    for i, (desc, diff_id) in enumerate(zip(doc["layers"], diff_ids)):
        if progress is not None:
            progress(i, desc, diff_id)
        notes += store.ensure_layer(desc["digest"], diff_id, f"layer {desc['digest'][:19]}")
        layers.append({"digest": desc["digest"], "diffID": diff_id, "size": desc["size"],
                       "mediaType": desc.get("mediaType", "")})
    record = {"id": cfg_desc["digest"], "manifest": manifest_digest, "config": cfg_desc["digest"],
              "layers": layers, "digests": list(digests), "extraBlobs": list(extra_blobs),
              "created": config.get("created") if isinstance(config.get("created"), str) else "",
              "os": config.get("os", ""), "architecture": config.get("architecture", ""),
              "size": sum(x["size"] for x in layers)}
    return store.add_image(record, names), notes
