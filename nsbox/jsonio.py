"""JSON without importing :mod:`json`.

``import json`` costs ~15 ms on the start-up path because its decoder imports
:mod:`re`.  The C accelerator :mod:`_json` alone does the work: its scanner
decodes and ``encode_basestring`` quotes strings.  The output is plain JSON,
readable by any tool.
"""

from __future__ import annotations

import os
from _json import encode_basestring as _quote
from _json import make_encoder as _make_encoder
from _json import make_scanner as _make_scanner

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return float(name.replace("Infinity", "inf"))

    def __init__(self) -> None:
        self.memo = {}


_scan = _make_scanner(_Context())
_WS = " \t\n\r"


class JSONError(ValueError):
    pass


def loads(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        text = text.decode()
    i = 0
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    try:
        obj, end = _scan(text, i)
    except StopIteration as e:
        raise JSONError(f"invalid JSON at offset {e.value}") from None
    except ValueError as e:
        raise JSONError(f"invalid JSON: {e}") from None
    while end < n and text[end] in _WS:
        end += 1
    if end != n:
        raise JSONError(f"invalid JSON: extra data at offset {end}")
    return obj


def _enc(obj: Any, out: list[str], indent: str | None, level: int) -> None:
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, str):
        out.append(_quote(obj))
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, float):
        out.append(float.__repr__(obj))
    elif isinstance(obj, dict):
        if not obj:
            out.append("{}")
            return
        sep = "\n" + indent * (level + 1) if indent is not None else ""
        out.append("{")
        first = True
        for k, v in obj.items():
            if not first:
                out.append(",")
            first = False
            out.append(sep)
            out.append(_quote(str(k)))
            out.append(": " if indent is not None else ":")
            _enc(v, out, indent, level + 1)
        if indent is not None:
            out.append("\n" + indent * level)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        if not obj:
            out.append("[]")
            return
        sep = "\n" + indent * (level + 1) if indent is not None else ""
        out.append("[")
        for i, v in enumerate(obj):
            if i:
                out.append(",")
            out.append(sep)
            _enc(v, out, indent, level + 1)
        if indent is not None:
            out.append("\n" + indent * level)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def _refuse(obj: Any) -> Any:
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


# The C encoder json.encoder uses (no circular-reference check: our data is trees).
_c_encode = _make_encoder(None, _refuse, _quote, None, ":", ",", False, False, True)


def dumps(obj: Any, indent: int | None = None) -> str:
    if indent is None:
        return "".join(_c_encode(obj, 0))
    out: list[str] = []
    _enc(obj, out, " " * indent, 0)
    return "".join(out)


def load_file(path: str) -> Any:
    with open(path, "rb") as f:
        return loads(f.read())


def write_atomic(path: str, obj: Any, mode: int = 0o600, indent: int | None = None) -> None:
    """Write JSON to ``path`` atomically: a temporary file, fsync-free rename."""
    tmp = f"{path}.{os.getpid()}.tmp"
    data = dumps(obj, indent).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, path)
