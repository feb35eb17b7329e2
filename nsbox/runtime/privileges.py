"""Capabilities, seccomp and Landlock for init: prepared in the parent, applied in the child.

prepare() runs in the parent before fork: capability names become masks, the
seccomp filter becomes a BPF program (from the cache when possible), Landlock
rules are checked against the kernel.  Every mistake is reported there, before
anything exists.  The child then only makes the system calls, in runc's order
(libcontainer/standard_init_linux.go, finalizeNamespace):

  [seccomp, when no_new_privs is off: it needs CAP_SYS_ADMIN, dropped below]
  bounding set -> PR_SET_KEEPCAPS -> (user switch) -> clear KEEPCAPS ->
  capset(effective, permitted, inheritable) -> ambient set -> ... fifo wait ...
  no_new_privs -> Landlock -> seccomp -> execve
"""

from __future__ import annotations

from ..errors import ConfigError
from ..kernel.errors import KernelError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .launch import Launch

CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")
# Standard devices a Landlock-restricted process may still open (OCI "Default Devices").
LANDLOCK_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")


class Prepared:
    """What the child applies; computed by prepare() in the parent."""

    def __init__(self) -> None:
        self.caps: dict[str, int] | None = None
        self.last_cap = 0
        self.seccomp: bytes | None = None
        self.seccomp_flags = 0
        self.landlock: list[tuple[str, int]] = []
        self.landlock_handled = 0


def cap_masks(capabilities: object, last: int) -> dict[str, int]:
    from ..kernel import caps as K

    out = {}
    for name in CAP_SETS:
        mask = 0
        for cap in getattr(capabilities, name):
            n = K.canonical(cap)
            if n is None:
                raise ConfigError(f"process.capabilities.{name}: unknown capability `{cap}`")
            if K.NUMBERS[n] > last:
                raise ConfigError(f"process.capabilities.{name}: `{n}` is not supported by the running "
                                  f"kernel (its last capability is {K.name_of(last)})")
            mask |= 1 << K.NUMBERS[n]
        out[name] = mask
    return out


def landlock_rules(launch: Launch) -> tuple[list[tuple[str, int]], int]:
    from ..specgen.privileges import ANN_LANDLOCK_RO, ANN_LANDLOCK_RW

    ann = launch.spec.annotations
    ro = [p for p in ann.get(ANN_LANDLOCK_RO, "").split(":") if p]
    rw = [p for p in ann.get(ANN_LANDLOCK_RW, "").split(":") if p]
    if not ro and not rw:
        return [], 0
    from ..kernel import landlock as L

    try:
        abi = L.abi_version()
    except KernelError as e:
        raise ConfigError(f"--landlock-ro/--landlock-rw: this kernel has no Landlock ({e}); it needs "
                          "Linux 5.13+ built with CONFIG_SECURITY_LANDLOCK and `landlock` in the "
                          "lsm= boot parameter") from None
    handled = L.handled_fs(abi)
    rules = [(p, L.READ & handled) for p in ro] + [(p, handled) for p in rw]
    rules += [(d, (L.READ_FILE | L.WRITE_FILE) & handled) for d in LANDLOCK_DEVICES]
    return rules, handled


def prepare(launch: Launch, cache_dir: str | None) -> Prepared:
    """Parent side: everything that can fail on bad input, before fork."""
    p = Prepared()
    proc = launch.process
    if proc.capabilities is not None:
        from ..kernel.caps import last_cap

        p.last_cap = last_cap()
        p.caps = cap_masks(proc.capabilities, p.last_cap)
    oci = launch.linux.seccomp
    if oci is not None:
        from ..seccomp import bpf

        try:
            p.seccomp = bpf.program(oci, cache_dir)
        except (KeyError, TypeError, AttributeError):
            from ..seccomp.profile import validate_oci

            validate_oci(oci)  # says what is malformed
            raise
        p.seccomp_flags = bpf.load_flags(oci)
    p.landlock, p.landlock_handled = landlock_rules(launch)
    launch.privileges = p  # type: ignore[attr-defined]
    return p


def prepared(launch: Launch) -> Prepared:
    p = getattr(launch, "privileges", None)
    return p if p is not None else prepare(launch, None)


# -- child side ---------------------------------------------------------------

def load_seccomp(p: Prepared) -> None:
    if p.seccomp is not None:
        from ..kernel.seccomp import load_filter

        load_filter(p.seccomp, p.seccomp_flags)


def before_user_switch(launch: Launch) -> None:
    """Seccomp first when no_new_privs is off; then the bounding set, and keep
    the permitted set across setresuid (PR_SET_KEEPCAPS, capabilities(7))."""
    p = prepared(launch)
    if not launch.process.no_new_privileges:
        load_seccomp(p)
    if p.caps is not None:
        from ..kernel import caps as K
        from ..kernel import prctl

        K.bounding_limit(p.caps["bounding"], p.last_cap)
        prctl.set_keepcaps(True)


def after_user_switch(launch: Launch) -> None:
    p = prepared(launch)
    if p.caps is None:
        return
    from ..kernel import caps as K
    from ..kernel import prctl

    prctl.set_keepcaps(False)
    c = p.caps
    K.capset(c["effective"], c["permitted"], c["inheritable"])
    K.ambient_clear()
    for cap in range(p.last_cap + 1):
        if c["ambient"] >> cap & 1:
            K.ambient_raise(cap)


def apply_landlock(p: Prepared) -> None:
    if not p.landlock:
        return
    import os

    from ..kernel import landlock as L

    fd = L.create_ruleset(p.landlock_handled)
    try:
        for path, access in p.landlock:
            if access and (path not in LANDLOCK_DEVICES or os.path.exists(path)):
                L.add_path_rule(fd, path, access)
        L.restrict_self(fd)
    finally:
        os.close(fd)


def before_exec(launch: Launch) -> None:
    """Last steps before execve: Landlock, then seccomp (when no_new_privs is on;
    otherwise it was loaded before the capabilities were dropped)."""
    p = prepared(launch)
    apply_landlock(p)
    if launch.process.no_new_privileges:
        load_seccomp(p)


def preload(launch: Launch) -> list[str]:
    """Kernel modules the steps above import after pivot_root."""
    p = prepared(launch)
    mods = ["nsbox.kernel.caps"] if p.caps is not None else []
    if p.seccomp is not None:
        mods.append("nsbox.kernel.seccomp")
    if p.landlock:
        mods.append("nsbox.kernel.landlock")
    return mods
