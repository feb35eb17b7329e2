"""User namespace id maps: check user_namespaces(7)'s rules first, then write them.

The kernel answers a bad map with a bare EINVAL or EPERM; nsbox checks each rule
before writing so the user reads which one was broken:

- every range has size > 0 and stays below 2**32 - 1;
- at most 340 lines per map (Linux >= 4.15);
- ranges may not overlap, neither inside nor outside;
- without CAP_SETUID/CAP_SETGID over the parent namespace (rootless), a process
  may only map its own id, once, with size 1, and must deny setgroups(2) before
  writing gid_map; anything more goes through the setuid helpers newuidmap and
  newgidmap, limited to the ranges /etc/subuid and /etc/subgid grant;
- the container's user and groups must be mapped.
"""

from __future__ import annotations

import os

from ..errors import ConfigError, NsboxError, UserNamespaceUnavailable
from ..kernel import ids
from ..kernel.errors import KernelError

MAX_LINES = 340
ID_LIMIT = 4294967295  # (uid_t)-1 is never a valid id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..spec.model import IDMapping

Range = tuple[int, int, int]  # (inside, outside, size)


def ranges(mappings: tuple[IDMapping, ...]) -> list[Range]:
    return [(m.container_id, m.host_id, m.size) for m in mappings]


def check_rules(which: str, rs: list[Range]) -> None:
    """The rules every writer must follow (both rootful and rootless)."""
    flag = "--uidmap" if which == "uid" else "--gidmap"
    if not rs:
        raise ConfigError(f"{which} map is empty: a new user namespace needs at least one {flag} range")
    if len(rs) > MAX_LINES:
        raise ConfigError(f"{which} map has {len(rs)} ranges: the kernel accepts at most {MAX_LINES}")
    for inside, outside, size in rs:
        text = f"{flag} {inside}:{outside}:{size}"
        if size <= 0:
            raise ConfigError(f"{text}: size must be > 0")
        if inside < 0 or outside < 0:
            raise ConfigError(f"{text}: ids must not be negative")
        if inside + size > ID_LIMIT or outside + size > ID_LIMIT:
            raise ConfigError(f"{text}: range goes past the largest id {ID_LIMIT - 1}")
    for side, name in ((0, "inside (container)"), (1, "outside (host)")):
        spans = sorted((r[side], r[side] + r[2], r) for r in rs)
        for (_a0, a1, ra), (b0, _b1, rb) in zip(spans, spans[1:]):
            if b0 < a1:
                raise ConfigError(
                    f"{which} map: {flag} {ra[0]}:{ra[1]}:{ra[2]} and {rb[0]}:{rb[1]}:{rb[2]} overlap "
                    f"on the {name} side (user_namespaces(7): ranges may not overlap)")


def maps_id(rs: list[Range], inside_id: int) -> bool:
    return any(i <= inside_id < i + n for i, _o, n in rs)


def to_host(rs: list[Range], inside_id: int) -> int | None:
    for i, o, n in rs:
        if i <= inside_id < i + n:
            return o + inside_id - i
    return None


def read_subids(path: str, user: str, uid: int) -> list[tuple[int, int]]:
    """Ranges (start, count) granted to ``user``/``uid`` in /etc/subuid or /etc/subgid."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) != 3 or line.startswith("#"):
                    continue
                if parts[0] in (user, str(uid)):
                    try:
                        out.append((int(parts[1]), int(parts[2])))
                    except ValueError:
                        continue
    except OSError:
        pass
    return out


def username(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return str(uid)


def which(prog: str) -> str | None:
    for d in (os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin").split(":") + ["/usr/bin", "/usr/sbin"]:
        p = f"{d}/{prog}"
        if d and os.access(p, os.X_OK):
            return p
    return None


def needs_helper(which_: str, rs: list[Range], own: int) -> bool:
    """Rootless: can the map be written directly (one line, own id, size 1)?"""
    return not (len(rs) == 1 and rs[0][1] == own and rs[0][2] == 1)


def check_rootless(which_: str, rs: list[Range], own: int, user: str, subid_file: str) -> None:
    """Rules for an unprivileged caller; raise with the rule and the fix."""
    if not needs_helper(which_, rs, own):
        return
    helper = "newuidmap" if which_ == "uid" else "newgidmap"
    granted = read_subids(subid_file, user, own)
    for inside, outside, size in rs:
        if outside == own and size == 1:
            continue
        if not any(s <= outside and outside + size <= s + c for s, c in granted):
            have = ", ".join(f"{s}:{c}" for s, c in granted) or "none"
            raise ConfigError(
                f"{which_} map range {inside}:{outside}:{size}: host ids {outside}-{outside + size - 1} "
                f"are not yours: an unprivileged user may map only its own {which_} ({own}) and the "
                f"ranges {subid_file} grants to `{user}` ({have})")
    if which(helper) is None:
        raise UserNamespaceUnavailable(
            f"{which_} map with {len(rs)} range(s) needs `{helper}`, which is not installed "
            f"(install the `uidmap` package, or map only your own id)")


def write_maps(pid: int, uid_rs: list[Range], gid_rs: list[Range], rootless: bool,
               allow_setgroups: bool) -> None:
    """Write the maps of ``pid``'s new user namespace (main side of USERMAP_PLS)."""
    if not rootless:
        ids.write_uid_map(pid, uid_rs)
        ids.write_gid_map(pid, gid_rs)
        return
    own_uid, own_gid = os.geteuid(), os.getegid()
    if needs_helper("uid", uid_rs, own_uid):
        run_helper("newuidmap", pid, uid_rs)
    else:
        ids.write_uid_map(pid, uid_rs)
    if needs_helper("gid", gid_rs, own_gid):
        run_helper("newgidmap", pid, gid_rs)
    else:
        if not allow_setgroups:
            ids.write_setgroups(pid, False)
        ids.write_gid_map(pid, gid_rs)


def run_helper(prog: str, pid: int, rs: list[Range]) -> None:
    path = which(prog)
    if path is None:
        raise UserNamespaceUnavailable(f"`{prog}` is not installed (install the `uidmap` package)")
    argv = [path, str(pid)] + [str(x) for r in rs for x in r]
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(r)
            os.dup2(w, 2)
            os.dup2(w, 1)
            os.execv(path, argv)
        finally:
            os._exit(127)
    os.close(w)
    out = b""
    while chunk := os.read(r, 4096):
        out += chunk
    os.close(r)
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        msg = out.decode(errors="replace").strip().splitlines()
        raise NsboxError(f"{prog} {' '.join(argv[2:])}: {msg[-1] if msg else 'failed'}")


def diagnose_unshare(err: KernelError, proc_sys: str = "/proc/sys") -> NsboxError:
    """Turn a failed unshare(CLONE_NEWUSER) into one line with the cause and the fix."""

    def read(name: str) -> str | None:
        try:
            with open(f"{proc_sys}/{name}") as f:
                return f.read().strip()
        except OSError:
            return None

    base = f"cannot create a user namespace: {err}"
    if read("kernel/unprivileged_userns_clone") == "0":
        return UserNamespaceUnavailable(
            f"{base}: unprivileged user namespaces are disabled "
            "(kernel.unprivileged_userns_clone=0); as root: sysctl -w kernel.unprivileged_userns_clone=1")
    if read("user/max_user_namespaces") == "0":
        return UserNamespaceUnavailable(
            f"{base}: user.max_user_namespaces is 0; as root: sysctl -w user.max_user_namespaces=15000")
    if read("kernel/apparmor_restrict_unprivileged_userns") == "1":
        return UserNamespaceUnavailable(
            f"{base}: AppArmor restricts unprivileged user namespaces "
            "(kernel.apparmor_restrict_unprivileged_userns=1); as root: sysctl -w "
            "kernel.apparmor_restrict_unprivileged_userns=0, or give nsbox an AppArmor profile with `userns,`")
    if err.errno == 28:  # ENOSPC
        return UserNamespaceUnavailable(
            f"{base}: the limit on user namespaces is reached (user.max_user_namespaces)")
    if err.errno == 22:  # EINVAL: e.g. a chrooted or threaded caller
        return UserNamespaceUnavailable(f"{base}: the caller cannot create one (chroot or threads)")
    return UserNamespaceUnavailable(base)


def rmtree_as_container_root(path: str, config: str) -> None:
    """Remove ``path`` from inside a user namespace with the container's id maps.

    The child unshares a user namespace, the parent writes the container's maps
    (newuidmap for the subordinate ranges), the child becomes its root and
    removes the tree.  Errors are reported; the caller retries the rest."""
    from .. import jsonio
    from ..kernel import ns
    from ..spec.model import Linux
    from .state import rmtree

    try:
        linux = Linux.from_json(jsonio.load_file(config).get("linux") or {}, "linux")
    except (OSError, ValueError) as e:
        raise NsboxError(f"remove `{path}`: cannot read the container's id maps: {e}") from None
    uid_rs, gid_rs = ranges(linux.uid_mappings), ranges(linux.gid_mappings)
    if not uid_rs:
        raise NsboxError(f"remove `{path}`: permission denied and the container had no id maps")
    r, w = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            os.close(w2)
            ns.unshare(ns.KINDS["user"][0])
            os.write(w, b"1")
            if os.read(r2, 1) != b"1":
                os._exit(1)
            if maps_id(gid_rs, 0):
                ids.setresgid(0)
            if maps_id(uid_rs, 0):
                ids.setresuid(0)
            rmtree(path)
            code = 0
        except BaseException as e:  # noqa: BLE001
            try:
                os.write(2, f"nsbox: remove `{path}` as the container's root: {e}\n".encode())
            except OSError:
                pass
        os._exit(code)
    os.close(w)
    os.close(r2)
    try:
        if os.read(r, 1) == b"1":
            write_maps(pid, uid_rs, gid_rs, rootless=True, allow_setgroups=len(gid_rs) > 1)
            os.write(w2, b"1")
    finally:
        os.close(r)
        os.close(w2)
        os.waitpid(pid, 0)
