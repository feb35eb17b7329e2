"""What the commands acting on named containers share: the store, garbage
collection first (every command runs it), and "one error line per failed name,
then exit 1" (as docker stop/kill/rm do for several names)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..runtime.state import Store


def store() -> Store:
    from ..runtime.gc import collect
    from ..runtime.state import Store

    s = Store()
    collect(s)
    return s


def for_each(names: list[str], fn: Callable[[str], object], echo: bool = True) -> int:
    """Apply ``fn`` to every name; print each name done (``echo``), report each failure."""
    from ..errors import NsboxError
    from .main import err

    failed = 0
    for name in names:
        try:
            fn(name)
        except (NsboxError, OSError) as e:
            err(str(e))
            failed = 1
            continue
        if echo:
            sys.stdout.write(name + "\n")
            sys.stdout.flush()
    return failed


def need_names(names: list[str], command: str) -> None:
    from .args import UsageError

    if not names:
        raise UsageError(f"{command}: give at least one container name or id (see nsbox {command} --help)")
