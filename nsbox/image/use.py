"""A container's root from an image: an overlay of the image's unpacked layers
(read-only lowers, shared by every container of the image) and the container's
own upper and work directories, so starting it copies nothing."""

from __future__ import annotations

import os

from ..errors import ConfigError, NotFound
from ..specgen.builder import RootfsInput
from .store import Store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..specgen.options import RunOptions


def prepare(opts: RunOptions, cdir: str, owner: tuple[int, int] | None) -> tuple[RunOptions, RootfsInput,
                                                                               dict[str, Any]]:
    """(options with the image's config applied, the root, fields for state.json)."""
    from . import config as C
    from .manifest import parse_json
    from .rootfs import overlay_available

    if opts.rootfs is not None:
        raise ConfigError(f"--image `{opts.image}` and --rootfs `{opts.rootfs}`: give one root, not both")
    if owner is not None:
        # The layers belong to the store's owner (root; rootless: you), who is not the container's
        # root here: its files would show as nobody and be read-only.  (Id-mapped layers: not yet.)
        raise ConfigError(f"--image `{opts.image}`: the container's root would be host uid {owner[0]}, but the "
                          "image's layers are owned by the store's owner; run it without a user namespace "
                          "(as root) or with your own uid as root (rootless: the default, or --userns auto)")
    store = Store()
    img = store.lookup(opts.image or "")
    cfg = parse_json(store.read_blob(img.record["config"]), f"image `{opts.image}`: config")
    opts, stop_signal = C.apply(opts, cfg, opts.image or "")
    for d in img.diff_ids:
        if not store.has_layer(d):
            raise NotFound(f"image `{opts.image}`: layer `{store.layer_path(d)}` is missing from the store (pull "
                           "or load it again)")
    lowers = tuple(store.lower_path(d) for d in reversed(img.diff_ids))
    if not overlay_available():
        raise ConfigError(f"image `{opts.image}`: the kernel has no overlayfs (needed for image roots)")
    root, upper, work = f"{cdir}/rootfs", f"{cdir}/upper", f"{cdir}/work"
    os.mkdir(root, 0o755)
    os.mkdir(upper, 0o755)
    os.mkdir(work, 0o700)
    if not lowers:
        empty = f"{cdir}/empty"
        os.mkdir(empty, 0o755)
        lowers = (empty,)
    if owner is not None:
        for p in (root, upper, work):
            os.chown(p, owner[0], owner[1])
    passwd = next((f"{p}/etc/passwd" for p in lowers if os.path.lexists(f"{p}/etc/passwd")), None)
    fields = {"image": img.id, "imageName": opts.image}
    if stop_signal:
        fields["stopSignal"] = stop_signal
    return opts, RootfsInput(root, lowers=lowers, upper=upper, work=work, passwd=passwd), fields


def in_use(state_root: str | None = None) -> dict[str, list[str]]:
    """Image id -> the containers (names or short ids) that use it."""
    out: dict[str, list[str]] = {}
    for cid, data, _path in _containers(state_root):
        image = data.get("image")
        if image:
            out.setdefault(image, []).append(data.get("name") or cid[:12])
    return out


def layers_in_use(store: Store, state_root: str | None = None) -> set[str]:
    """Names under ``layers/`` that containers have as overlay lowers (kept by sweeps even when
    their image was removed with -f)."""
    from .. import jsonio
    from ..spec import model

    out: set[str] = set()
    for _cid, _data, path in _containers(state_root):
        try:
            ann = (jsonio.load_file(f"{path}/config.json").get("annotations") or {})
        except (OSError, ValueError, AttributeError):
            continue
        for lower in model.overlay_split(ann.get(model.ANN_OVERLAY_LOWER, "")):
            if lower.startswith(f"{store.root}/l/"):
                try:
                    lower = os.path.normpath(os.path.join(f"{store.root}/l", os.readlink(lower)))
                except OSError:
                    continue
            if lower.startswith(f"{store.root}/layers/"):
                out.add(lower.rpartition("/")[2])
    return out


def _containers(state_root: str | None):
    from ..runtime import state as S

    st = S.Store(state_root)
    for cid in st.ids():
        path = f"{st.containers_dir}/{cid}"
        try:
            data = S.Container(st, cid, path).read()
        except Exception:  # noqa: BLE001 - a container being removed meanwhile
            continue
        yield cid, data, path
