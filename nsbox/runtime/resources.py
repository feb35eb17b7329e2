"""Resources a container holds outside its state directory, and how to release them.

A subsystem records ``{"kind": K, ...}`` in state.json (Container.add_resource)
*before* it creates the resource; releasing is idempotent, so the owner on a
normal exit, ``nsbox rm``, and the garbage collector after a SIGKILL all call
the same function.  Kinds map to ``module:function`` so that releasing a cgroup
does not import the network code.
"""

from __future__ import annotations

import sys

RELEASERS: dict[str, str] = {
    "cgroup": "nsbox.cgroups.manager:release",
    "netns": "nsbox.runtime.netns:release",
    "net-bridge": "nsbox.net.release:bridge",
    "net-lease": "nsbox.net.release:lease",
    "net-link": "nsbox.net.release:link",
    "net-ports": "nsbox.net.release:ports",
    "net-helper": "nsbox.net.release:helper",
    "net-netns": "nsbox.net.release:netns",
}


def register(kind: str, target: str) -> None:
    RELEASERS[kind] = target


def release(record: dict) -> None:
    target = RELEASERS.get(record.get("kind", ""))
    if target is None:
        return
    mod, _, fn = target.partition(":")
    __import__(mod)  # (importlib itself imports warnings: not on the start-up path)
    getattr(sys.modules[mod], fn)(record)


def release_all(records: list[dict]) -> list[str]:
    """Release in reverse order of creation; return the errors (never raise)."""
    errors = []
    for rec in reversed(records):
        try:
            release(rec)
        except Exception as e:  # noqa: BLE001 - keep releasing the rest
            errors.append(f"release {rec.get('kind')}: {e}")
    return errors
