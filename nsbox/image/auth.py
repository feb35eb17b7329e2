"""Registry credentials in the Docker config.json format: ``{"auths": {HOST: {"auth": base64(user:pass)}}}``.

Read from, in order: the file given (``--authfile``), nsbox's own
($XDG_CONFIG_HOME/nsbox/auth.json, where ``nsbox login`` writes, 0600),
$XDG_RUNTIME_DIR/containers/auth.json and ~/.config/containers/auth.json
(Podman's), ~/.docker/config.json (Docker's).
"""

from __future__ import annotations

import base64
import os

from .. import jsonio
from ..errors import ConfigError

DOCKER_HUB_KEYS = ("docker.io", "https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io")


def own_file() -> str:
    cfg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return f"{cfg}/nsbox/auth.json"


def search_path(authfile: str | None = None) -> list[str]:
    paths = [authfile] if authfile else [own_file()]
    if not authfile:
        run = os.environ.get("XDG_RUNTIME_DIR")
        if run:
            paths.append(f"{run}/containers/auth.json")
        paths += [os.path.expanduser("~/.config/containers/auth.json"), os.path.expanduser("~/.docker/config.json")]
    return paths


def _keys(registry: str) -> tuple[str, ...]:
    if registry in DOCKER_HUB_KEYS:
        return DOCKER_HUB_KEYS
    return (registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v2/")


def _read(path: str) -> dict:
    try:
        data = jsonio.load_file(path)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ConfigError(f"credentials file `{path}`: unreadable ({e})") from None
    return data if isinstance(data, dict) else {}


def lookup(registry: str, authfile: str | None = None) -> tuple[str, str] | None:
    """(user, password) for ``registry``, or None."""
    for path in search_path(authfile):
        auths = _read(path).get("auths")
        if not isinstance(auths, dict):
            continue
        for key in _keys(registry):
            entry = auths.get(key)
            if isinstance(entry, dict) and isinstance(entry.get("auth"), str):
                try:
                    user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
                except ValueError:
                    raise ConfigError(f"credentials file `{path}`: the entry of `{key}` is not base64 "
                                      "user:password") from None
                if sep:
                    return user, password
    return None


def store(registry: str, user: str, password: str, authfile: str | None = None) -> str:
    """Save credentials (0600, written atomically); the file's path."""
    path = authfile or own_file()
    data = _read(path)
    auths = data.setdefault("auths", {})
    auths[registry] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    _write(path, data)
    return path


def remove(registry: str, authfile: str | None = None) -> bool:
    path = authfile or own_file()
    data = _read(path)
    auths = data.get("auths") or {}
    found = [k for k in _keys(registry) if k in auths]
    for k in found:
        del auths[k]
    if found:
        _write(path, data)
    return bool(found)


def _write(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    jsonio.write_atomic(path, data, mode=0o600, indent=2)
    os.chmod(path, 0o600)
