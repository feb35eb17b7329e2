"""Frozen records for the spec model, without :mod:`dataclasses`.

``import dataclasses`` pulls in :mod:`inspect` and :mod:`re` (~30 ms here), too much
for a runtime whose start-up time is a feature.  A record class lists its fields
as annotations with defaults; :class:`Record` gives it keyword construction,
equality, ``replace()``, and JSON conversion in both directions with the OCI
camelCase names.  Loading reports problems with their JSON path
(``linux.uidMappings[0].size: must be an integer``).
"""

from __future__ import annotations

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MISSING = object()
_REGISTRY: dict[str, type[Record]] = {}


class SpecError(ConfigError):
    """A config problem; ``path`` is the JSON path of the offending value."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


class _Field:
    __slots__ = ("name", "json", "kind", "inner", "default", "optional")

    def __init__(self, name: str, json: str, annotation: str, default: Any) -> None:
        self.name = name
        self.json = json
        self.default = default
        ann = annotation.replace(" ", "")
        self.optional = ann.endswith("|None")
        if self.optional:
            ann = ann[: -len("|None")]
        if ann.startswith("tuple[") and ann.endswith(",...]"):
            self.kind, self.inner = "tuple", ann[len("tuple["): -len(",...]")]
        elif ann.startswith("dict[str,"):
            self.kind, self.inner = "dict", ann[len("dict[str,"): -1]
        else:
            self.kind, self.inner = "one", ann


class Record:
    """Base of spec records: fields from annotations, frozen after __init__.

    A class's field table is built the first time it is used (most of the
    OCI model is never touched by a given run)."""

    _json_names: dict[str, str] = {}

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        _REGISTRY[cls.__name__] = cls

    @classmethod
    def _table(cls) -> tuple[_Field, ...]:
        cached = cls.__dict__.get("_field_table")
        if cached is not None:
            return cached
        fields: list[_Field] = []
        for klass in reversed(cls.__mro__):
            for name, ann in klass.__dict__.get("__annotations__", {}).items():
                if name.startswith("_"):
                    continue
                default = klass.__dict__.get(name, _MISSING)
                json = cls._json_names.get(name) or camel(name)
                fields = [f for f in fields if f.name != name]
                fields.append(_Field(name, json, ann, default))
        table = tuple(fields)
        type.__setattr__(cls, "_field_table", table)
        return table

    @property
    def _fields(self) -> tuple[_Field, ...]:
        return self._table()

    def __init__(self, **kw: Any) -> None:
        d = self.__dict__
        for f in self._table():
            v = kw.pop(f.name, _MISSING)
            if v is _MISSING:
                if f.default is _MISSING:
                    raise TypeError(f"{type(self).__name__}: missing field {f.name!r}")
                v = dict(f.default) if isinstance(f.default, dict) else f.default
            d[f.name] = v
        if kw:
            raise TypeError(f"{type(self).__name__}: unknown field(s) {', '.join(kw)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        parts = [f"{f.name}={self.__dict__[f.name]!r}" for f in self._fields
                 if self.__dict__[f.name] != f.default]
        return f"{type(self).__name__}({', '.join(parts)})"

    def replace(self, **changes: Any) -> Any:
        values = {f.name: self.__dict__[f.name] for f in self._fields}
        values.update(changes)
        return type(self)(**values)

    # -- JSON ---------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self._fields:
            v = self.__dict__[f.name]
            if v is None or (f.default is not _MISSING and v == f.default and v in ((), {}, None)):
                continue
            if f.inner in _SCALARS or f.inner == "Any":
                out[f.json] = list(v) if type(v) is tuple else v  # plain JSON already: no deep copy
            else:
                out[f.json] = _dump(v)
        return out

    @classmethod
    def from_json(cls, data: Any, path: str = "") -> Any:
        if not isinstance(data, dict):
            raise SpecError(path, "must be an object")
        kw: dict[str, Any] = {}
        for f in cls._table():
            sub = f"{path}.{f.json}" if path else f.json
            if f.json not in data or data[f.json] is None:
                if f.default is _MISSING:
                    raise SpecError(sub, "is required")
                continue
            kw[f.name] = _load(f, data[f.json], sub)
        return cls(**kw)


def _dump(v: Any) -> Any:
    if isinstance(v, Record):
        return v.to_json()
    if isinstance(v, tuple | list):
        return [_dump(x) for x in v]
    if isinstance(v, dict):
        return {k: _dump(x) for k, x in v.items()}
    return v


_SCALARS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "str": (str, "must be a string"),
    "int": (int, "must be an integer"),
    "bool": (bool, "must be a boolean"),
    "float": ((int, float), "must be a number"),
}


def _load_one(kind: str, v: Any, path: str) -> Any:
    if kind == "Any":
        return v
    scalar = _SCALARS.get(kind)
    if scalar is not None:
        types, msg = scalar
        if not isinstance(v, types) or (kind in ("int", "float") and isinstance(v, bool)):
            raise SpecError(path, msg)
        return v
    rec = _REGISTRY.get(kind)
    if rec is None:
        raise TypeError(f"unknown field type {kind!r}")
    return rec.from_json(v, path)


def _load(f: _Field, v: Any, path: str) -> Any:
    if f.kind == "tuple":
        if not isinstance(v, list):
            raise SpecError(path, "must be an array")
        return tuple(_load_one(f.inner, x, f"{path}[{i}]") for i, x in enumerate(v))
    if f.kind == "dict":
        if not isinstance(v, dict):
            raise SpecError(path, "must be an object")
        return {k: _load_one(f.inner, x, f"{path}.{k}") for k, x in v.items()}
    return _load_one(f.inner, v, path)
