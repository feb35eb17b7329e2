"""Collect pools whose server died (its caller was SIGKILLed, or it was).

``<root>/pools/<id>`` holds owner.lock (held by the server for its life) and a
state.json listing the cgroups it made, recorded before they existed.  Its
mounts lived in its own mount namespace and its sandboxes died with it
(parent-death signal), so what is left is: a server still dying, the cgroups,
the directory.  Called by runtime.gc.collect (every nsbox command) and Pool().
"""

from __future__ import annotations

import os

from ..runtime import state as S
from ..runtime.gc import kill_and_release


def collect_pools(store: S.Store) -> list[str]:
    d = f"{store.root}/pools"
    try:
        names = os.listdir(d)
    except OSError:
        return []
    done = []
    for name in names:
        c = S.Container(store, name, f"{d}/{name}")
        if c.owner_alive() or name.startswith(PENDING) and _younger_than(c.path, 60.0):
            continue  # alive, or being made (the owner.lock is taken before the rename)
        try:
            st = c.read()
        except Exception:  # noqa: BLE001 - a corrupt state file: remove what we can
            st = {}
        if kill_and_release(st):
            continue  # e.g. a cgroup still emptying: the next collection retries
        try:
            S.rmtree(c.path)
        except (OSError, S.NsboxError):
            continue
        done.append(f"pools/{name}")
    return done


PENDING = ".new-"


def _younger_than(path: str, seconds: float) -> bool:
    import time

    try:
        return time.time() - os.lstat(path).st_mtime < seconds
    except OSError:
        return True
