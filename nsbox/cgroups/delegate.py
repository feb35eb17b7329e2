"""Rootless cgroups: find the cgroup v2 subtree delegated to the calling user.

cgroups(7) "Cgroups v2 delegation": a manager (systemd's user@UID.service,
``systemd-run --user --scope -p Delegate=yes``) hands a subtree to a user by
chowning its directory and its cgroup.procs, cgroup.subtree_control and
cgroup.threads.  The user may then create cgroups below it, enable the
controllers its parent granted, and move its own processes between cgroups
of the subtree (the "containment" rule: write access to cgroup.procs of the
common ancestor).  We start from our own cgroup (/proc/self/cgroup, the
``0::`` line) and climb while the user may still write there: the highest such
cgroup is the delegation root, and nsbox's cgroups go in ``<root>/nsbox``.
cgroup v1 is never delegated to unprivileged users (it is not safe: the
runtime-spec says as much in "Cgroup ownership").
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .detect import Layout

DELEGATE_FILES = ("cgroup.procs", "cgroup.subtree_control")
HINT = "run nsbox inside a delegated scope, e.g. `systemd-run --user --scope -p Delegate=yes nsbox run ...`"


def own_cgroup(proc: str = "/proc", pid: str = "self") -> str | None:
    """Our cgroup v2 path (the ``0::PATH`` line), or None on a v1-only machine."""
    try:
        with open(f"{proc}/{pid}/cgroup") as f:
            for line in f:
                hid, _, rest = line.rstrip("\n").partition(":")
                ctrls, _, path = rest.partition(":")
                if hid == "0" and ctrls == "":
                    return path or "/"
    except OSError:
        pass
    return None


def _writable(path: str) -> bool:
    return os.access(path, os.W_OK)


def delegation_root(mountpoint: str, cgroup: str,
                    writable: Callable[[str], bool] = _writable) -> str | None:
    """The highest ancestor of ``cgroup`` (itself included) that we may manage, or None."""
    parts = [p for p in cgroup.split("/") if p]
    if "process_api" in parts:
        # the sandbox's own tree: never ours to manage, whatever its permissions say
        parts = parts[: parts.index("process_api")]
    best = None
    for n in range(len(parts), 0, -1):
        path = "/" + "/".join(parts[:n])
        d = mountpoint + path
        if all(writable(f"{d}/{f}") for f in DELEGATE_FILES) and writable(d):
            best = path
        else:
            break
    return best


def find_delegated(uid: int, layout: Layout | None = None, proc: str = "/proc",
                   writable: Callable[[str], bool] = _writable) -> tuple[str | None, str]:
    """(delegation root, "") or (None, why rootless limits cannot be applied here)."""
    if layout is None:
        from .detect import detect

        layout = detect(proc)
    if layout.mode != "v2":
        return None, (f"this machine runs cgroup {layout.mode} and cgroup v1 is never delegated to an "
                      "unprivileged user (run as root, or on a cgroup v2 machine)")
    mnt = layout.hierarchies[0].mountpoint
    own = own_cgroup(proc)
    if own is None:
        return None, "cannot read our own cgroup from /proc/self/cgroup"
    root = delegation_root(mnt, own, writable)
    if root is None:
        return None, f"no cgroup v2 subtree is delegated to uid {uid} (our cgroup `{own}` is not writable); {HINT}"
    return root, ""
