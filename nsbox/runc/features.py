"""``nsbox-runc features``: the Features structure of features.md / features-linux.md.

Built from the tables the engine itself uses (mount option flags, capability
names, seccomp actions, operators and flags), so it cannot claim more than
the code recognises.  What nsbox-runc refuses (bundle.py) is reported as not
enabled."""

from __future__ import annotations

import sys

from ..spec.model import OCI_VERSION
from .opts import parse

HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
ARCHS = ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
         "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
         "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
         "SCMP_ARCH_S390X", "SCMP_ARCH_RISCV64"]


def features() -> dict:
    from ..kernel.caps import NAMES
    from ..kernel.mount import OPTION_FLAGS, PROPAGATION_OPTIONS
    from ..kernel.seccomp import FLAGS
    from ..seccomp.bpf import ACT_VALUES, OP_VALUES
    from ..spec.validate import NS_TYPES

    options = sorted(set(OPTION_FLAGS) | set(PROPAGATION_OPTIONS) | {"bind", "rbind", "rro", "idmap", "ridmap"})
    linux = {
        "namespaces": list(NS_TYPES),
        "capabilities": list(NAMES),
        "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": True},
        "seccomp": {"enabled": True, "actions": sorted(a for a in ACT_VALUES if a != "SCMP_ACT_NOTIFY"),
                    "operators": sorted(OP_VALUES), "archs": ARCHS,
                    "knownFlags": sorted(FLAGS), "supportedFlags": sorted(FLAGS)},
        "apparmor": {"enabled": False},
        "selinux": {"enabled": False},
        "intelRdt": {"enabled": False},
        "mountExtensions": {"idmap": {"enabled": True}},
        "netDevices": {"enabled": True},
    }
    return {"ociVersionMin": "1.0.0", "ociVersionMax": OCI_VERSION, "hooks": HOOKS, "mountOptions": options,
            "linux": linux, "annotations": {"run.nsbox.runc.version": _version()}}


def _version() -> str:
    from .main import VERSION

    return VERSION


def main(name: str, argv: list[str]) -> int:
    from .. import jsonio

    _v, pos = parse(name, "features", [], argv)
    if pos:
        from .opts import UsageError

        raise UsageError(f"{name}: unexpected argument `{pos[0]}`")
    sys.stdout.write(jsonio.dumps(features(), indent=2) + "\n")
    return 0
