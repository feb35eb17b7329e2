"""The image store the CLI uses: ``nsbox --storage DIR`` / $NSBOX_STORAGE (main.py configures
nsbox.defaults from them), else the default."""

from __future__ import annotations


def open_store():
    from ..image.store import Store

    return Store()


def short_id(image_id: str) -> str:
    return image_id.partition(":")[2][:12]
