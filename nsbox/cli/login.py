"""``nsbox login REGISTRY`` / ``nsbox logout REGISTRY``: credentials in the Docker config.json format
(0600), checked against the registry before they are stored."""

from __future__ import annotations

import sys

from .args import Command, Opt, UsageError

COMMAND = Command("login", "login [-u USER] [-p PASSWORD | --password-stdin] REGISTRY",
                  "Log in to a registry: the credentials are checked, then stored (0600) in "
                  "$XDG_CONFIG_HOME/nsbox/auth.json (or --authfile).  nsbox logout REGISTRY removes them.", [
                      Opt("-u --username", "username", help="user name", metavar="USER"),
                      Opt("-p --password", "password", help="password (visible to other users in ps; prefer "
                          "--password-stdin)", metavar="PASSWORD"),
                      Opt("--password-stdin", "password_stdin", "bool", "read the password from stdin"),
                      Opt("--authfile", "authfile", help="credentials file to write", metavar="FILE"),
                      Opt("--tls-verify", "tls_verify", help="false: allow plain HTTP", metavar="BOOL"),
                      Opt("--cert-dir", "cert_dir", help="CA certificates (*.crt) of the registry", metavar="DIR"),
                  ])


def main(argv: list[str], logout: bool = False) -> int:
    from ..image import auth

    values, rest = COMMAND.parse(argv)
    if values["help"]:
        sys.stdout.write(COMMAND.help_text() + "\n")
        return 0
    if len(rest) != 1:
        raise UsageError("login: give one registry (host[:port])")
    registry = rest[0]
    if logout:
        if not auth.remove(registry, values["authfile"]):
            from ..errors import NotFound

            raise NotFound(f"logout `{registry}`: not logged in")
        sys.stdout.write(f"Removed login credentials for {registry}\n")
        return 0
    user = values["username"] or _ask("Username: ")
    if values["password_stdin"]:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = values["password"]
        if password is None:
            import getpass

            password = getpass.getpass("Password: ")
    _check(registry, user, password, (values["tls_verify"] or "true").lower() == "false", values["cert_dir"])
    path = auth.store(registry, user, password, values["authfile"])
    sys.stdout.write(f"Login Succeeded! (credentials in {path})\n")
    return 0


def _ask(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline().strip()


def _check(registry: str, user: str, password: str, insecure: bool, cert_dir: str | None) -> None:
    """Authenticate against /v2/ (and the token service, for bearer registries)."""
    from ..errors import NsboxError
    from ..image.registry import Registry, RegistryError, insecure_in_conf

    reg = Registry(registry, (user, password), insecure=insecure or insecure_in_conf(registry), cert_dir=cert_dir)
    what = f"login {registry}"
    reg.ping(what)
    if reg.challenge is None:
        return
    kind, params = reg.challenge
    if kind == "bearer":
        reg._token(params, "", what)
        return
    r = reg._raw("GET", f"{reg.scheme}://{reg.host}/v2/", {"Authorization": "Basic " + _b64(user, password)}, what)
    r.read()
    r.close()
    if r.status in (401, 403):
        raise RegistryError(f"{what}: the registry refused the credentials ({r.status})")
    if r.status != 200:
        raise NsboxError(f"{what}: the registry answered {r.status}")


def _b64(user: str, password: str) -> str:
    import base64

    return base64.b64encode(f"{user}:{password}".encode()).decode()
