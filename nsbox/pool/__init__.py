"""nsbox.Pool: a warm fork server handing out fresh, isolated sandboxes (see pool.py).

Names are imported on first use: runtime/gc.py imports nsbox.pool.gc on every
nsbox command that finds a pools directory, and must not pay for the Pool."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..api.run import DEVNULL, PIPE, STDOUT
    from ..errors import PoolClosed
    from .pool import Pool

__all__ = ["Pool", "PoolClosed", "PIPE", "STDOUT", "DEVNULL"]
_WHERE = {"Pool": "nsbox.pool.pool", "PoolClosed": "nsbox.errors", "PIPE": "nsbox.api.run",
          "STDOUT": "nsbox.api.run", "DEVNULL": "nsbox.api.run"}


def __getattr__(name: str) -> object:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'nsbox.pool' has no attribute {name!r}")
    value = getattr(__import__(where, fromlist=[name]), name)
    globals()[name] = value
    return value
