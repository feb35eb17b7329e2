"""Python keywords -> RunOptions: the API's side of what ``nsbox run``'s flags do.

Every ``nsbox run`` option is a keyword named as the snake_case of its long
flag (``--pids-limit`` -> ``pids_limit``), with four plurals the issue's users
expect (``volumes``, ``ulimits``, ``time_offsets``) and ``cwd`` for
``--workdir``.  Values take the CLI's strings, or Python's natural forms: ints
and floats for sizes and counts, lists for repeatable flags, dicts for
KEY=VALUE flags (``env={"A": "1"}``, ``tmpfs={"/tmp": "size=64m"}``,
``volumes={"/src": "/dst:ro"}``, ``ulimits={"nofile": (1024, 2048)}``).  The
builder (nsbox.specgen) then checks them exactly as it checks the CLI's, and
its messages are relabelled to name the keyword rather than the flag.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..specgen.options import RunOptions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

# keyword -> RunOptions field, where they differ
RENAMED = {"volumes": "volume", "ulimits": "ulimit", "time_offsets": "time_offset", "cwd": "workdir"}
# RunOptions fields that are not keywords: the command is the argv; a container's
# detach/rm/terminal behaviour is Container's (run() waits and removes)
NOT_KEYWORDS = frozenset({"command", "detach", "rm", "interactive", "tty"})
# short flags of the CLI whose messages the builder prints
SHORT_FLAGS = {"-v": "volumes", "-e": "env", "-w": "cwd", "-u": "user", "-p": "publish", "-m": "memory",
               "-c": "cpu_shares"}
# what KEY=VALUE a dict entry becomes, per field
PAIR_FORMS = {"env": "{k}={v}", "ulimit": "{k}={v}", "time_offset": "{k}={v}", "tmpfs": "{k}:{v}",
              "volume": "{k}:{v}", "cgroup_conf": "{k}={v}", "ns": "{k}={v}", "add_host": "{k}:{v}",
              "sysctl": "{k}={v}"}


def keywords() -> dict[str, object]:
    """keyword -> the RunOptions field record (its kind and default)."""
    out: dict[str, object] = {}
    back = {v: k for k, v in RENAMED.items()}
    for f in RunOptions._table():
        if f.name not in NOT_KEYWORDS:
            out[back.get(f.name, f.name)] = f
    return out


_KEYWORDS: dict[str, Any] | None = None


def _table() -> dict[str, Any]:
    global _KEYWORDS
    if _KEYWORDS is None:
        _KEYWORDS = keywords()
    return _KEYWORDS


def run_options(argv: Sequence[str], options: Mapping[str, Any], *, caller: str = "nsbox.run",
                **fixed: Any) -> RunOptions:
    """RunOptions from ``argv`` and keyword values; TypeError for an unknown
    keyword (as Python's own calls), ConfigError for a value of the wrong form."""
    table = _table()
    kw: dict[str, Any] = {}
    for key, value in options.items():
        field = table.get(key)
        if field is None:
            raise TypeError(f"{caller}() got an unexpected keyword argument {key!r}")
        kw[field.name] = _convert(key, field, value)
    if kw.get("image") and isinstance(argv, (list, tuple)) and not argv:
        return RunOptions(**kw, **fixed)  # the image's Entrypoint and Cmd
    return RunOptions(command=command(argv, caller), **kw, **fixed)


def command(argv: Sequence[str], caller: str) -> tuple[str, ...]:
    if isinstance(argv, (str, bytes)) or not isinstance(argv, (list, tuple)):
        raise ConfigError(f"{caller}: argv `{argv!r}`: expected a list of strings like [\"sh\", \"-c\", \"...\"]")
    if not argv:
        raise ConfigError(f"{caller}: argv `[]`: no command given")
    out = []
    for a in argv:
        if isinstance(a, bytes):
            a = a.decode()
        if not isinstance(a, str) or "\0" in a:
            raise ConfigError(f"{caller}: argv item `{a!r}`: expected a string without NUL bytes")
        out.append(a)
    return tuple(out)


def _convert(key: str, field: Any, value: Any) -> Any:
    if field.kind == "tuple":
        return _many(key, field.name, value)
    if field.default is False:  # a switch
        if not isinstance(value, bool):
            raise ConfigError(f"{key} `{value!r}`: expected True or False")
        return value
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"{key} `{value!r}`: expected a string or a number")
    if isinstance(value, float) and value.is_integer() and key != "cpus":
        value = int(value)
    return value if isinstance(value, str) else str(value)


def _many(key: str, name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, dict):
        form = PAIR_FORMS.get(name)
        if form is None:
            raise ConfigError(f"{key} `{value!r}`: expected a list of strings")
        return tuple(_pair(key, name, form, k, v) for k, v in value.items())
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise ConfigError(f"{key} `{value!r}`: expected a list of strings")
    out = []
    for item in value:
        if isinstance(item, tuple) and name in ("uidmap", "gidmap") and len(item) == 3:
            item = ":".join(str(int(x)) for x in item)
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise ConfigError(f"{key} item `{item!r}`: expected a string")
        out.append(str(item))
    return tuple(out)


def _pair(key: str, name: str, form: str, k: Any, v: Any) -> str:
    if not isinstance(k, str):
        raise ConfigError(f"{key} key `{k!r}`: expected a string")
    if name == "ulimit" and isinstance(v, (tuple, list)) and len(v) == 2:
        v = f"{v[0]}:{v[1]}"
    elif name == "volume" and isinstance(v, dict):  # docker-py: {"bind": "/dst", "mode": "ro"}
        v = f"{v.get('bind', '')}:{v['mode']}" if v.get("mode") else str(v.get("bind", ""))
    elif name == "tmpfs" and not v:
        return k
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise ConfigError(f"{key}[{k!r}] `{v!r}`: expected a string or a number")
    return form.format(k=k, v=v)


def relabel(err: ConfigError) -> ConfigError:
    """The builder names ``nsbox run`` flags (``--pids-limit `x`: ...``); an API
    caller gave keywords: name those (``pids_limit `x`: ...``)."""
    msg = str(err)
    new = relabel_text(msg)
    if new == msg:
        return err
    e = ConfigError(new)
    e.__cause__ = err
    return e


def relabel_text(msg: str) -> str:
    flags = _flag_names()
    out = []
    for word in msg.split(" "):
        head, sep, tail = word.partition("/")
        key = flags.get(head.rstrip(":,"))
        if key is not None:
            word = key + head[len(head.rstrip(":,")):] + sep + tail
        out.append(word)
    return " ".join(out)


def _flag_names() -> dict[str, str]:
    back = {v: k for k, v in RENAMED.items()}
    names = {f"--{f.replace('_', '-')}": back.get(f, f) for f in (x.name for x in RunOptions._table())}
    names.update(SHORT_FLAGS)
    names["--workdir"] = "cwd"
    return names
