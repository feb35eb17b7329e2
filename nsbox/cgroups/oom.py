"""Tell the user that the OOM killer struck (loaded only when it did).

The kernel counts OOM kills per memory cgroup (``oom_kill`` in memory.events on
v2, memory.oom_control on v1); the supervisor reads the counter after the
container's init exits and before its cgroup is removed (runtime/run.py finish).
A container whose init died of SIGKILL with kills counted was OOM-killed
(Docker's State.OOMKilled, and exit status 137).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..runtime.create import Created


def human(n: int) -> str:
    """Binary units, as Docker prints memory (64MiB, 1.5GiB)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            text = f"{value:.2f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
        value /= 1024
    return f"{n}B"


def memory_limit(created: Created) -> int | None:
    res = created.launch.linux.resources or {}
    limit = (res.get("memory") or {}).get("limit")
    return limit if isinstance(limit, int) and limit > 0 else None


def message(created: Created, code: int) -> str:
    c = created.container
    name = c.state.get("name") or c.id[:12]
    limit = memory_limit(created)
    cause = f"memory limit {human(limit)} reached" if limit else "out of memory"
    if created.exit_reason == "oom-killed":
        return f"container `{name}` was OOM-killed ({cause}); exit status {code}"
    n = created.oom_kills
    return (f"warning: the OOM killer killed {n} process{'es' if n > 1 else ''} in container `{name}` "
            f"({cause})")
