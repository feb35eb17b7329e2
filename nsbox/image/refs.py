"""Image references: ``[REGISTRY[:PORT]/]REPO[:TAG][@DIGEST]`` (distribution's grammar).

Parsed without :mod:`re` (``nsbox run`` asks whether its first word is an image).
Names are normalised as Docker and Podman do: ``alpine`` is
``docker.io/library/alpine:latest`` once a registry is chosen; a short name
(no registry) is resolved against ``unqualified-search-registries`` of
registries.conf (default: docker.io), see :func:`candidates`.
"""

from __future__ import annotations

from ..errors import ConfigError

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
HEX = frozenset("0123456789abcdef")
DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}


class Reference:
    """A parsed reference; ``registry`` is "" for a short name."""

    __slots__ = ("registry", "repository", "tag", "digest")

    def __init__(self, registry: str, repository: str, tag: str | None, digest: str | None) -> None:
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest

    @property
    def short(self) -> bool:
        return not self.registry

    def qualified(self, registry: str = DEFAULT_REGISTRY) -> Reference:
        """This reference on ``registry`` (when it names none), with docker.io's library/ and :latest."""
        reg = self.registry or registry
        repo = self.repository
        if reg == DEFAULT_REGISTRY and "/" not in repo:
            repo = f"library/{repo}"
        tag = self.tag if self.tag or self.digest else DEFAULT_TAG
        return Reference(reg, repo, tag, self.digest)

    @property
    def name(self) -> str:
        """registry/repository (no tag or digest)."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s

    def __repr__(self) -> str:
        return f"Reference({str(self)!r})"


def check_digest(value: str, what: str = "digest") -> str:
    """``sha256:<64 hex>`` (or sha512); the value, or ConfigError."""
    algo, colon, hexpart = value.partition(":")
    n = DIGEST_LENGTHS.get(algo)
    if not colon or n is None:
        raise ConfigError(f"{what} `{value}`: expected sha256:<hex> or sha512:<hex>")
    if len(hexpart) != n or not HEX.issuperset(hexpart):
        raise ConfigError(f"{what} `{value}`: expected {n} lowercase hex digits after `{algo}:`")
    return value


def _component_ok(c: str) -> bool:
    """[a-z0-9]+ separated by one of `.`, `_`, `__` or any number of `-`."""
    if not c or c[0] not in LOWER_ALNUM or c[-1] not in LOWER_ALNUM:
        return False
    i, n = 0, len(c)
    while i < n:
        ch = c[i]
        if ch in LOWER_ALNUM:
            i += 1
            continue
        j = i
        while j < n and c[j] not in LOWER_ALNUM:
            j += 1
        sep = c[i:j]
        if sep not in (".", "_", "__") and set(sep) != {"-"}:
            return False
        i = j
    return True


def _is_registry(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost"


def _registry_ok(reg: str) -> bool:
    host, colon, port = reg.rpartition(":") if not reg.endswith("]") else (reg, "", "")
    if not colon:
        host = reg
    elif not port.isdigit():
        return False
    if host.startswith("[") and host.endswith("]"):
        return len(host) > 2
    return bool(host) and all(p and all(ch.isalnum() or ch == "-" for ch in p) and p[0] != "-" and p[-1] != "-"
                              for p in host.split("."))


def parse(text: str) -> Reference:
    """Parse a reference; ConfigError names what is wrong."""
    if not text or len(text) > 4096 or any(ch.isspace() for ch in text):
        raise ConfigError(f"image reference `{text}`: empty or contains spaces")
    rest, at, digest = text.partition("@")
    if at:
        check_digest(digest, f"image reference `{text}`: digest")
    registry = ""
    first, slash, remainder = rest.partition("/")
    if slash and _is_registry(first):
        if not _registry_ok(first):
            raise ConfigError(f"image reference `{text}`: invalid registry `{first}`")
        registry, rest = first, remainder
    repo, tag = rest, None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        repo, tag = rest[:colon], rest[colon + 1:]
        if not tag or len(tag) > 128 or tag[0] in ".-" or not TAG_CHARS.issuperset(tag):
            raise ConfigError(f"image reference `{text}`: invalid tag `{tag}`")
    if not repo or len(repo) > 255 or not all(_component_ok(c) for c in repo.split("/")):
        raise ConfigError(f"image reference `{text}`: invalid repository name `{repo}` (lowercase letters, "
                          "digits and separators . _ __ - between them)")
    return Reference(registry, repo, tag, digest or None)


def looks_like_reference(text: str) -> bool:
    try:
        parse(text)
    except ConfigError:
        return False
    return True


def registries_conf() -> dict:
    """The registries.conf in effect, as Podman picks it: nsbox.configure's (the CLI:
    $CONTAINERS_REGISTRIES_CONF), else the user's ~/.config/containers/registries.conf if
    not root and it exists, else /etc/containers/registries.conf; {} if there is none."""
    import os

    from .. import defaults

    paths = [defaults.registries_conf] if defaults.registries_conf else []
    if not paths:
        if os.geteuid() != 0:
            cfg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
            paths.append(f"{cfg}/containers/registries.conf")
        paths.append("/etc/containers/registries.conf")
    return read_conf(tuple(paths))


def read_conf(conf_paths: tuple[str, ...]) -> dict:
    import tomllib

    for path in conf_paths:
        try:
            with open(path, "rb") as f:
                return tomllib.load(f)
        except FileNotFoundError:
            continue
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"registries.conf `{path}`: {e}") from None
    return {}


def search_registries(conf_paths: tuple[str, ...] | None = None) -> list[str]:
    """``unqualified-search-registries`` of registries.conf; docker.io when it sets none.
    Read with tomllib (TOML), only off the start-up path."""
    data = read_conf(conf_paths) if conf_paths else registries_conf()
    regs = data.get("unqualified-search-registries")
    if isinstance(regs, list) and regs and all(isinstance(r, str) for r in regs):
        return regs
    return [DEFAULT_REGISTRY]


def candidates(ref: Reference, registries: list[str] | None = None) -> list[Reference]:
    """The fully qualified references a name stands for, in the order to try them."""
    if not ref.short:
        return [ref.qualified()]
    regs = registries if registries is not None else search_registries()
    return [ref.qualified(r) for r in regs]


def local_candidates(ref: Reference) -> list[str]:
    """The names a reference may have in the local store: as given if qualified, else
    under localhost/ (Podman's name for local builds) and each search registry."""
    if not ref.short:
        return [str(ref.qualified())]
    out = [str(ref.qualified("localhost"))]
    try:
        regs = search_registries()
    except ConfigError:
        regs = [DEFAULT_REGISTRY]
    out += [str(r) for r in candidates(ref, regs)]
    return out
