"""The image store the CLI uses: ``nsbox --storage DIR`` / $NSBOX_STORAGE, else the default;
$NSBOX_MAX_LAYER_SIZE (bytes) caps the unpacked size of one layer."""

from __future__ import annotations

import os


def root() -> str | None:
    return os.environ.get("NSBOX_STORAGE") or None


def open_store():
    from ..errors import ConfigError
    from ..image.store import DEFAULT_MAX_LAYER_SIZE, Store

    cap = os.environ.get("NSBOX_MAX_LAYER_SIZE", "")
    if cap and not cap.isdigit():
        raise ConfigError(f"NSBOX_MAX_LAYER_SIZE `{cap}`: expected a number of bytes")
    return Store(root(), int(cap) if cap else DEFAULT_MAX_LAYER_SIZE)


def short_id(image_id: str) -> str:
    return image_id.partition(":")[2][:12]
