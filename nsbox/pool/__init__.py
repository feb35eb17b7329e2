"""nsbox.Pool: a warm fork server handing out fresh, isolated sandboxes (see pool.py)."""

from ..api.run import DEVNULL, PIPE, STDOUT
from ..errors import PoolClosed
from .pool import Pool

__all__ = ["Pool", "PoolClosed", "PIPE", "STDOUT", "DEVNULL"]
