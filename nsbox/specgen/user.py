"""The process of a container: its user (names from the root's /etc/passwd) and
its environment (used by nsbox.specgen.builder)."""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..spec import model as m

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .options import RunOptions

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def parse_user(spec: str | None, passwd: str | None) -> m.User:
    """-u UID[:GID] or NAME[:GROUP], names looked up in the root's /etc/passwd; the
    groups the root's /etc/group lists the user in become its supplementary
    groups, as Docker does."""
    if not spec:
        return m.User(uid=0, gid=0)
    u, _, g = spec.partition(":")
    uid = _lookup(u, passwd, 2, "-u user")
    gid: int
    if g:
        gid = _lookup(g, group_file(passwd), 2, "-u group")
    else:
        gid = _passwd_gid(uid, passwd)
    # initgroups(3): the primary group, then every group /etc/group lists the user in
    extra = (gid,) + tuple(x for x in supplementary_gids(uid, passwd) if x != gid)
    return m.User(uid=uid, gid=gid, additional_gids=extra)


def group_file(passwd: str | None) -> str | None:
    return os.path.join(os.path.dirname(passwd), "group") if passwd else None


def supplementary_gids(uid: int, passwd: str | None) -> tuple[int, ...]:
    """The gids of the groups whose member list names the user (by its passwd name)."""
    name = next((row[0] for row in _read_db(passwd) if len(row) > 2 and row[2] == str(uid)), None)
    if name is None:
        return ()
    return tuple(int(row[2]) for row in _read_db(group_file(passwd))
                 if len(row) > 3 and row[2].isdigit() and name in row[3].split(","))


def _read_db(path: str | None) -> list[list[str]]:
    if not path:
        return []
    try:
        with open(path) as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip() and not line.startswith("#")]
    except OSError:
        return []


def _lookup(value: str, path: str | None, idx: int, what: str) -> int:
    if value.isdigit():
        return int(value)
    for row in _read_db(path):
        if row[0] == value and len(row) > idx:
            return int(row[idx])
    raise ConfigError(f"{what} `{value}`: not found in the container's {os.path.basename(path or 'passwd')}")


def _passwd_gid(uid: int, path: str | None) -> int:
    for row in _read_db(path):
        if len(row) > 3 and row[2] == str(uid):
            return int(row[3])
    return uid if uid != 0 else 0


def _home(uid: int, path: str | None) -> str:
    for row in _read_db(path):
        if len(row) > 5 and row[2] == str(uid):
            return row[5]
    return "/root" if uid == 0 else "/"


def environment(o: RunOptions, user: m.User, hostname: str, passwd: str | None) -> tuple[str, ...]:
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname, "HOME": _home(user.uid, passwd)}
    if o.tty:
        env["TERM"] = os.environ.get("TERM", "xterm")
    for path in o.env_file:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise ConfigError(f"--env-file `{path}`: {e.strerror}") from None
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            _set_env(env, line, f"--env-file {path}:{n}")
    for item in o.env:
        _set_env(env, item, "-e")
    return tuple(f"{k}={v}" for k, v in env.items())


def _set_env(env: dict[str, str], item: str, where: str) -> None:
    key, eq, value = item.partition("=")
    if not key or "\0" in item:
        raise ConfigError(f"{where} `{item}`: expected KEY=VALUE")
    if not eq:
        if os.environ.get(key) is not None:  # -e KEY passes the caller's value, as Docker does
            env[key] = os.environ.get(key, "")
        return
    env[key] = value
