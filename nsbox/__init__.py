"""nsbox: containers from the eight Linux namespaces, as a Python library.

>>> import nsbox
>>> r = nsbox.run(["sh", "-c", "echo hello; id -u"], network="none", memory="64m", timeout=5)
>>> r.returncode, r.stdout
(0, b'hello\\n0\\n')

``nsbox.run``/``nsbox.arun`` run a command to completion (as subprocess.run);
``nsbox.Container`` is a container that outlives the call (``nsbox run -d``);
``nsbox.configure`` sets where state and cgroups live.  Errors derive from
``nsbox.Error``.  See docs/API.md.  Names are imported on first use, so
``import nsbox`` costs nothing on the command line's start-up path.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .api.container import Container, containers
    from .api.result import Reason, Result
    from .api.run import DEVNULL, PIPE, STDOUT, arun, run
    from .defaults import configure
    from .errors import (
        ConfigError,
        Conflict,
        Error,
        ExecError,
        KernelError,
        LimitWarning,
        NotFound,
        ProcessError,
        UserNamespaceUnavailable,
    )

__version__ = "0.1.0"

_WHERE = {
    "run": "api.run", "arun": "api.run", "PIPE": "api.run", "DEVNULL": "api.run", "STDOUT": "api.run",
    "Result": "api.result", "Reason": "api.result",
    "Container": "api.container", "containers": "api.container",
    "configure": "defaults",
    "Error": "errors", "ConfigError": "errors", "KernelError": "errors", "UserNamespaceUnavailable": "errors",
    "NotFound": "errors", "Conflict": "errors", "ProcessError": "errors", "LimitWarning": "errors",
    "ExecError": "errors",
}

__all__ = ["DEVNULL", "PIPE", "STDOUT", "ConfigError", "Conflict", "Container", "Error", "ExecError",
           "KernelError", "LimitWarning", "NotFound", "ProcessError", "Reason", "Result",
           "UserNamespaceUnavailable", "arun", "configure", "containers", "run"]


def __getattr__(name: str) -> object:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'nsbox' has no attribute {name!r}")
    module = __import__(f"nsbox.{where}", fromlist=[name])
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
