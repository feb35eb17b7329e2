"""pause/resume: the freezer of cgroup v1 (``freezer.state``) or v2 (``cgroup.freeze``)."""

from __future__ import annotations

import os
import time

from ..errors import NsboxError


def _files(path: str) -> list[tuple[str, int]]:
    from ..cgroups.detect import detect

    out = []
    for h in detect().hierarchies:
        if h.version == 1 and "freezer" in h.controllers:
            out.append((f"{h.mountpoint}{path}/freezer.state", 1))
        elif h.version == 2 and os.path.exists(f"{h.mountpoint}{path}/cgroup.freeze"):
            out.append((f"{h.mountpoint}{path}/cgroup.freeze", 2))
    return out


def is_frozen(path: str) -> bool:
    for f, version in _files(path):
        try:
            with open(f) as fh:
                value = fh.read().strip()
        except OSError:
            continue
        return value in ("FROZEN", "FREEZING") if version == 1 else value == "1"
    return False


def freeze(path: str | None, on: bool, what: str) -> None:
    files = _files(path) if path else []
    if not files:
        raise NsboxError(f"{what}: the container has no freezer cgroup (no cgroup, or no freezer controller)")
    f, version = files[0]
    value = ("FROZEN" if on else "THAWED") if version == 1 else ("1" if on else "0")
    try:
        with open(f, "w") as fh:
            fh.write(value)
    except OSError as e:
        raise NsboxError(f"{what}: write {value} to `{f}`: {e.strerror}") from None
    if version == 1 and on:  # FREEZING until every task is frozen
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(f) as fh:
                if fh.read().strip() == "FROZEN":
                    return
            time.sleep(0.005)
        raise NsboxError(f"{what}: `{f}` did not reach FROZEN in 5 s")
