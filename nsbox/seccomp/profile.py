"""Seccomp profiles: Docker's JSON format -> the OCI ``linux.seccomp`` form.

Docker's format (moby profiles/seccomp) is the OCI form plus ``archMap`` and
per-rule ``includes``/``excludes`` (capabilities in the bounding set, host
architecture, minimum kernel).  to_oci() resolves those for one container the
way moby's setupSeccomp does; a profile already in the OCI form goes through
unchanged.  Everything is validated here, with the JSON path of a bad value,
so the compiler (nsbox.seccomp.bpf) only ever sees well-formed input.
No system calls: host facts (machine, kernel release) are parameters.
"""

from __future__ import annotations

import os

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",
           "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")
OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
       "SCMP_CMP_MASKED_EQ")
FLAGS = ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
         "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
# uname machine -> the architecture names Docker profiles use in includes/excludes.
NATIVE = {"x86_64": "amd64", "aarch64": "arm64", "i386": "x86", "i686": "x86", "armv7l": "arm",
          "armv6l": "arm", "ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x",
          "riscv64": "riscv64", "mips64": "mips64", "loongarch64": "loong64"}
OCI_ARCH = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "x86": "SCMP_ARCH_X86",
            "arm": "SCMP_ARCH_ARM", "ppc64le": "SCMP_ARCH_PPC64LE", "ppc64": "SCMP_ARCH_PPC64",
            "s390x": "SCMP_ARCH_S390X", "riscv64": "SCMP_ARCH_RISCV64", "mips64": "SCMP_ARCH_MIPS64",
            "loong64": "SCMP_ARCH_LOONGARCH64"}


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """"6.18.0-1-amd64" -> (6, 18), as moby's parseRelease (minor and suffix ignored)."""
    release = release or os.uname().release
    parts = release.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1].split("-")[0] if c.isdigit()) or "0")
    except (IndexError, ValueError):
        return 0, 0


def _min_kernel(value: Any, where: str) -> tuple[int, int]:
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConfigError(f"{where}: invalid kernel version `{value}` (expected \"<kernel>.<major>\")")
    return int(parts[0]), int(parts[1])


def _strings(v: Any, where: str) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{where}: must be an array of strings")
    return v


def _applies(rule: dict, caps: set[str], arch: str, kernel: tuple[int, int], where: str) -> bool:
    """moby setupSeccomp: excludes win over includes; every listed cap must be bounding."""
    inc = rule.get("includes") or {}
    exc = rule.get("excludes") or {}
    for what, cond in (("includes", inc), ("excludes", exc)):
        if not isinstance(cond, dict):
            raise ConfigError(f"{where}.{what}: must be an object")
    if arch in _strings(exc.get("arches"), f"{where}.excludes.arches"):
        return False
    if any(c in caps for c in _strings(exc.get("caps"), f"{where}.excludes.caps")):
        return False
    if exc.get("minKernel") and kernel >= _min_kernel(exc["minKernel"], f"{where}.excludes.minKernel"):
        return False
    arches = _strings(inc.get("arches"), f"{where}.includes.arches")
    if arches and arch not in arches:
        return False
    if not all(c in caps for c in _strings(inc.get("caps"), f"{where}.includes.caps")):
        return False
    if inc.get("minKernel") and kernel < _min_kernel(inc["minKernel"], f"{where}.includes.minKernel"):
        return False
    return True


def _errno(v: Any, where: str) -> int | None:
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFFFF:
        raise ConfigError(f"{where}: must be an errno number (0-65535)")
    return v


def _action(v: Any, where: str) -> str:
    if v not in ACTIONS:
        raise ConfigError(f"{where}: unknown action `{v}` (one of {', '.join(ACTIONS)})")
    if v == "SCMP_ACT_NOTIFY":
        raise ConfigError(f"{where}: SCMP_ACT_NOTIFY (seccomp user notification) is not supported by nsbox")
    return v


def _arg(a: Any, where: str) -> dict:
    if not isinstance(a, dict):
        raise ConfigError(f"{where}: must be an object")
    out: dict[str, Any] = {}
    for key in ("index", "value", "valueTwo"):
        v = a.get(key, 0)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0 or v >= 1 << 64:
            raise ConfigError(f"{where}.{key}: must be an unsigned 64-bit integer")
        if key in a or key == "index":
            out[key] = v
    if out["index"] > 5:
        raise ConfigError(f"{where}.index: a system call has 6 arguments (0-5)")
    if a.get("op") not in OPS:
        raise ConfigError(f"{where}.op: unknown operator `{a.get('op')}` (one of {', '.join(OPS)})")
    out["op"] = a["op"]
    return out


def _rule(rule: Any, where: str) -> dict:
    if not isinstance(rule, dict):
        raise ConfigError(f"{where}: must be an object")
    names = _strings(rule.get("names"), f"{where}.names")
    if rule.get("name"):
        if names:
            raise ConfigError(f"{where}: give `name` or `names`, not both")
        if not isinstance(rule["name"], str):
            raise ConfigError(f"{where}.name: must be a string")
        names = [rule["name"]]
    if not names:
        raise ConfigError(f"{where}.names: at least one system call name is needed")
    out: dict[str, Any] = {"names": list(names), "action": _action(rule.get("action"), f"{where}.action")}
    err = _errno(rule.get("errnoRet"), f"{where}.errnoRet")
    if err is not None:
        out["errnoRet"] = err
    args = rule.get("args") or []
    if not isinstance(args, list):
        raise ConfigError(f"{where}.args: must be an array")
    if args:
        out["args"] = [_arg(a, f"{where}.args[{i}]") for i, a in enumerate(args)]
    return out


def _architectures(profile: dict, arch: str, where: str) -> list[str]:
    arches = _strings(profile.get("architectures"), f"{where}.architectures")
    amap = profile.get("archMap") or []
    if arches and amap:
        raise ConfigError(f"{where}: give `architectures` or `archMap`, not both")
    if not isinstance(amap, list):
        raise ConfigError(f"{where}.archMap: must be an array")
    native = OCI_ARCH.get(arch)
    for i, entry in enumerate(amap):
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}.archMap[{i}]: must be an object")
        if entry.get("architecture") == native:
            return [native] + _strings(entry.get("subArchitectures"), f"{where}.archMap[{i}].subArchitectures")
    return list(arches)


def to_oci(profile: Any, caps: tuple[str, ...] | list[str] | set[str], where: str, *,
           machine: str | None = None, kernel: tuple[int, int] | None = None) -> dict | None:
    """A Docker or OCI profile -> the OCI form for a container whose bounding set
    is ``caps``; None when the profile disables seccomp (no default action, no rules).
    ``where`` prefixes error messages (``--security-opt seccomp=FILE`` or ``linux.seccomp``)."""
    if not isinstance(profile, dict):
        raise ConfigError(f"{where}: a seccomp profile must be a JSON object")
    rules = profile.get("syscalls") or []
    if not isinstance(rules, list):
        raise ConfigError(f"{where}.syscalls: must be an array")
    if not profile.get("defaultAction") and not rules:
        return None
    arch = NATIVE.get(machine or os.uname().machine, machine or "")
    kernel = kernel or kernel_version()
    have = set(caps)
    out: dict[str, Any] = {"defaultAction": _action(profile.get("defaultAction"), f"{where}.defaultAction")}
    err = _errno(profile.get("defaultErrnoRet"), f"{where}.defaultErrnoRet")
    if err is not None:
        out["defaultErrnoRet"] = err
    arches = _architectures(profile, arch, where)
    if arches:
        out["architectures"] = arches
    flags = _strings(profile.get("flags"), f"{where}.flags")
    for f in flags:
        if f not in FLAGS:
            raise ConfigError(f"{where}.flags: unknown or unsupported flag `{f}` (one of {', '.join(FLAGS)})")
    if flags:
        out["flags"] = flags
    if profile.get("listenerPath"):
        raise ConfigError(f"{where}.listenerPath: seccomp user notification is not supported by nsbox")
    syscalls = []
    for i, rule in enumerate(rules):
        w = f"{where}.syscalls[{i}]"
        if not isinstance(rule, dict):
            raise ConfigError(f"{w}: must be an object")
        if _applies(rule, have, arch, kernel, w):
            syscalls.append(_rule(rule, w))
    out["syscalls"] = syscalls
    return out


def validate_oci(obj: Any, where: str = "linux.seccomp") -> dict:
    """Check an OCI ``linux.seccomp`` object from a config.json; return it normalised."""
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}: must be an object")
    if not obj.get("defaultAction"):
        raise ConfigError(f"{where}.defaultAction: is required")
    for key in ("archMap",):
        if key in obj:
            raise ConfigError(f"{where}.{key}: not part of the OCI form (a Docker profile field)")
    for i, rule in enumerate(obj.get("syscalls") or []):
        if isinstance(rule, dict) and (rule.get("includes") or rule.get("excludes")):
            raise ConfigError(f"{where}.syscalls[{i}]: includes/excludes are not part of the OCI form")
    out = to_oci(obj, (), where)
    assert out is not None
    return out


def load_file(path: str, caps: tuple[str, ...] | list[str], flag: str = "--security-opt seccomp") -> dict | None:
    """Read a profile file (Docker's format or the OCI form) and convert it;
    errors read "--security-opt seccomp=`FILE`: profile.syscalls[2].action: ..."."""
    from .. import jsonio

    where = f"{flag}=`{path}`"
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(f"{where}: {e.strerror}") from None
    try:
        profile = jsonio.loads(data)
    except ValueError as e:
        raise ConfigError(f"{where}: not valid JSON ({e})") from None
    try:
        return to_oci(profile, caps, "profile")
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
