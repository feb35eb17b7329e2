"""nsbox.Pool: a warm fork server handing out fresh, isolated sandboxes (see pool.py)."""

from ..errors import PoolClosed
from .pool import DEVNULL, PIPE, STDOUT, Pool

__all__ = ["Pool", "PoolClosed", "PIPE", "STDOUT", "DEVNULL"]
