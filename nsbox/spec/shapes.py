"""The shape config-linux.md gives the parts the spec model keeps as plain JSON
(``linux.resources``, ``linux.netDevices``): types and ranges of each field, so a
bad value fails with its JSON path (``linux.resources.rdma.mlx5_1.hcaHandles:
must be an integer from 0 to 4294967295``) before any runtime code reads it.

A shape is a type name ("int64", "uint32", "string", "bool", ...), a dict of field
-> shape (an object), ``[shape]`` (an array of it), or ``{"*": shape}`` (an object
of any keys).  Unknown fields are ignored (config.md: "MUST ignore unknown
properties").
"""

from __future__ import annotations

from .record import SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RANGES = {"int64": (-(1 << 63), (1 << 63) - 1), "uint64": (0, (1 << 64) - 1), "uint32": (0, (1 << 32) - 1),
          "uint16": (0, (1 << 16) - 1), "int32": (-(1 << 31), (1 << 31) - 1)}
DEVICE_RATE = {"major": "int64", "minor": "int64", "rate": "uint64"}
RESOURCES: dict[str, Any] = {
    "devices": [{"allow": "bool", "type": "string", "major": "int64", "minor": "int64", "access": "string"}],
    "memory": {"limit": "int64", "reservation": "int64", "swap": "int64", "kernel": "int64",
               "kernelTCP": "int64", "swappiness": "uint64", "disableOOMKiller": "bool",
               "useHierarchy": "bool", "checkBeforeUpdate": "bool"},
    "cpu": {"shares": "uint64", "quota": "int64", "burst": "uint64", "period": "uint64",
            "realtimeRuntime": "int64", "realtimePeriod": "uint64", "cpus": "string", "mems": "string",
            "idle": "int64"},
    "pids": {"limit": "int64"},
    "blockIO": {"weight": "uint16", "leafWeight": "uint16",
                "weightDevice": [{"major": "int64", "minor": "int64", "weight": "uint16", "leafWeight": "uint16"}],
                "throttleReadBpsDevice": [DEVICE_RATE], "throttleWriteBpsDevice": [DEVICE_RATE],
                "throttleReadIOPSDevice": [DEVICE_RATE], "throttleWriteIOPSDevice": [DEVICE_RATE]},
    "hugepageLimits": [{"pageSize": "pagesize", "limit": "uint64"}],
    "network": {"classID": "uint32", "priorities": [{"name": "string", "priority": "uint32"}]},
    "rdma": {"*": {"hcaHandles": "uint32", "hcaObjects": "uint32"}},
    "unified": {"*": "string"},
}
NET_DEVICES: dict[str, Any] = {"*": {"name": "string"}}
REQUIRED = {"devices": ("allow",), "hugepageLimits": ("pageSize", "limit"), "network.priorities": ("name", "priority"),
            "blockIO.weightDevice": ("major", "minor")}


def check(value: Any, shape: Any, path: str, out: list[SpecError]) -> None:
    """Append a SpecError for each place ``value`` does not have ``shape``."""
    if isinstance(shape, list):
        if not isinstance(value, list):
            out.append(SpecError(path, "must be an array"))
            return
        for i, item in enumerate(value):
            check(item, shape[0], f"{path}[{i}]", out)
    elif isinstance(shape, dict):
        if not isinstance(value, dict):
            out.append(SpecError(path, "must be an object"))
            return
        for key, item in value.items():
            sub = shape.get("*", shape.get(key))
            if sub is not None:
                check(item, sub, f"{path}.{key}", out)
    else:
        _scalar(value, shape, path, out)


def _scalar(value: Any, kind: str, path: str, out: list[SpecError]) -> None:
    if kind == "bool":
        if not isinstance(value, bool):
            out.append(SpecError(path, "must be true or false"))
    elif kind in ("string", "pagesize"):
        if not isinstance(value, str):
            out.append(SpecError(path, "must be a string"))
        elif kind == "pagesize" and not _page_size(value):
            out.append(SpecError(path, f"`{value}` is not a page size like 2MB or 1GB"))
    else:
        lo, hi = RANGES[kind]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            out.append(SpecError(path, f"must be an integer from {lo} to {hi}"))


def _page_size(text: str) -> bool:
    """config-linux.md's pattern ^[1-9][0-9]*[KMG]B$."""
    return len(text) >= 3 and text[-1] == "B" and text[-2] in "KMG" and text[:-2].isdigit() and text[0] != "0"


def resources(value: Any, out: list[SpecError]) -> None:
    check(value, RESOURCES, "linux.resources", out)
    if isinstance(value, dict):
        for where, keys in REQUIRED.items():
            section, _, sub = where.partition(".")
            items = value.get(section)
            if sub and isinstance(items, dict):
                items = items.get(sub)
            for i, item in enumerate(items if isinstance(items, list) else []):
                for key in keys:
                    if isinstance(item, dict) and key not in item:
                        out.append(SpecError(f"linux.resources.{where}[{i}].{key}", "is required"))


def net_devices(value: Any, out: list[SpecError]) -> None:
    check(value, NET_DEVICES, "linux.netDevices", out)
