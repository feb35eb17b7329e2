"""An OCI distribution API client (pull side) over http.client.

- HTTPS; plain HTTP only for loopback registries and those named insecure (the
  caller's ``insecure``, or registries.conf ``[[registry]] insecure = true``),
  and then only when the registry does not speak TLS.
- Authentication from the ``WWW-Authenticate`` challenge of ``/v2/``: anonymous,
  Basic (stored credentials), Bearer (a token from the realm, for the
  repository's pull scope, with the credentials if there are any).
- Every request has a timeout; redirects (blob storage) are followed without
  the registry's Authorization header.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import urllib.parse

from .. import jsonio
from ..errors import ConfigError, NotFound, NsboxError

MAX_REDIRECTS = 5
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


class RegistryError(NsboxError):
    pass


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in LOOPBACK_HOSTS or name.startswith("127.") or name.startswith("localhost")


def endpoint(registry: str) -> str:
    return "registry-1.docker.io" if registry in ("docker.io", "index.docker.io") else registry


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="...",scope="..."`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            j = i + 1
            buf = []
            while j < n and rest[j] != '"':
                if rest[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(rest[j])
                j += 1
            params[key] = "".join(buf)
            i = j + 1
        else:
            j = rest.find(",", i)
            j = n if j < 0 else j
            params[key] = rest[i:j].strip()
            i = j
    return scheme.lower(), params


class Response:
    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        self.conn, self.resp = conn, resp
        self.status = resp.status

    def header(self, name: str) -> str | None:
        return self.resp.getheader(name)

    def read(self, n: int | None = None) -> bytes:
        return self.resp.read(n if n is not None and n >= 0 else None)

    def close(self) -> None:
        self.conn.close()


class Registry:
    def __init__(self, registry: str, credentials: tuple[str, str] | None = None, insecure: bool = False,
                 timeout: float = 30.0, cert_dir: str | None = None) -> None:
        self.name = registry
        self.host = endpoint(registry)
        self.credentials = credentials
        self.may_use_http = insecure or is_loopback(self.host)
        self.timeout = timeout
        self.scheme: str | None = None
        self.tokens: dict[str, str] = {}
        self.challenge: tuple[str, dict[str, str]] | None = None
        self.cert_dir = cert_dir
        self._ssl: ssl.SSLContext | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """The system's CAs plus the registry's own (``*.crt`` of certs.d/HOST, as Podman and
        Docker read them, or of ``cert_dir``)."""
        if self._ssl is None:
            import os

            ctx = ssl.create_default_context()
            dirs = [self.cert_dir] if self.cert_dir else [
                f"/etc/containers/certs.d/{self.name}", f"/etc/docker/certs.d/{self.name}",
                os.path.expanduser(f"~/.config/containers/certs.d/{self.name}")]
            for d in dirs:
                try:
                    names = sorted(os.listdir(d))
                except OSError:
                    continue
                for n in names:
                    if n.endswith(".crt"):
                        try:
                            ctx.load_verify_locations(cafile=f"{d}/{n}")
                        except (OSError, ssl.SSLError) as e:
                            raise RegistryError(f"registry {self.name}: CA file `{d}/{n}`: {e}") from None
            self._ssl = ctx
        return self._ssl

    # -- transport --------------------------------------------------------------
    def _connect(self, scheme: str, host: str) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(host, timeout=self.timeout, context=self.ssl_context())
        return http.client.HTTPConnection(host, timeout=self.timeout)

    def _raw(self, method: str, url: str, headers: dict[str, str], what: str) -> Response:
        for _ in range(MAX_REDIRECTS + 1):
            u = urllib.parse.urlsplit(url)
            conn = self._connect(u.scheme, u.netloc)
            try:
                conn.request(method, (u.path or "/") + (f"?{u.query}" if u.query else ""), headers=headers)
                resp = conn.getresponse()
            except TimeoutError:
                conn.close()
                raise RegistryError(f"{what}: registry {u.netloc} did not answer within {self.timeout:g}s") from None
            except ssl.SSLError:
                conn.close()
                raise
            except http.client.HTTPException as e:
                conn.close()
                raise RegistryError(f"{what}: registry {u.netloc} answered something that is not HTTP "
                                    f"({type(e).__name__}: {e})") from None
            except OSError as e:
                conn.close()
                raise RegistryError(f"{what}: cannot reach registry {u.netloc}: {e.strerror or e}") from None
            if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                url = urllib.parse.urljoin(url, resp.getheader("Location"))
                conn.close()
                self._check_redirect(u.scheme, url, what)
                if urllib.parse.urlsplit(url).netloc != u.netloc:
                    headers = {k: v for k, v in headers.items() if k != "Authorization"}
                continue
            return Response(conn, resp)
        raise RegistryError(f"{what}: more than {MAX_REDIRECTS} redirects")

    def _check_redirect(self, scheme: str, url: str, what: str) -> None:
        """A redirect names http or https, and leaves HTTPS for plain HTTP only where
        plain HTTP is allowed at all (loopback, insecure): the request's credentials
        or token must not cross the network in clear."""
        to = urllib.parse.urlsplit(url).scheme
        if to not in ("http", "https") or (to == "http" and scheme == "https" and not self.may_use_http):
            kind = "plain HTTP" if to == "http" else f"`{to}:`"
            raise RegistryError(f"{what}: {self.host} redirected to {kind} ({url}): refused")

    def _base(self, what: str) -> str:
        if self.scheme is None:
            self.ping(what)
        return f"{self.scheme}://{self.host}"

    def ping(self, what: str) -> None:
        """GET /v2/: the scheme that works and the authentication challenge."""
        # loopback: plain HTTP first (a TLS registry answers it with a 400); named insecure: HTTPS first
        schemes = ["https"] if not self.may_use_http else \
            ["http", "https"] if is_loopback(self.host) else ["https", "http"]
        first: str | None = None
        for i, scheme in enumerate(schemes):
            last = i == len(schemes) - 1
            try:
                r = self._raw("GET", f"{scheme}://{self.host}/v2/", {}, what)
                try:
                    r.read(1 << 16)
                finally:
                    r.close()
            except (ssl.SSLError, RegistryError) as e:
                msg = f"{what}: TLS with registry {self.host}: {e.reason or e}" if isinstance(e, ssl.SSLError) \
                    else str(e)
                if not last and (isinstance(e, ssl.SSLError) or "not HTTP" in msg or "reset" in msg):
                    first = first or msg
                    continue
                if first is not None:
                    msg = f"{first} (over {scheme}: {msg.rpartition(': ')[2]})"
                raise RegistryError(msg) from None
            except TimeoutError:
                raise RegistryError(f"{what}: registry {self.host} did not answer within {self.timeout:g}s") from None
            if r.status == 400 and scheme == "http" and not last:
                continue
            if r.status == 401:
                header = r.header("WWW-Authenticate") or ""
                self.challenge = parse_challenge(header)
            elif r.status != 200:
                raise RegistryError(f"{what}: registry {self.host} answered {r.status} to /v2/ (not an OCI "
                                    "distribution registry?)")
            self.scheme = scheme
            return

    # -- authentication -------------------------------------------------------
    def _auth_header(self, scope: str, what: str) -> dict[str, str]:
        if self.challenge is None:
            return {}
        kind, params = self.challenge
        if kind == "basic":
            if self.credentials is None:
                raise RegistryError(f"{what}: registry {self.host} requires a login (nsbox login {self.name})")
            return {"Authorization": "Basic " + _basic(self.credentials)}
        if kind == "bearer":
            token = self.tokens.get(scope) or self._token(params, scope, what)
            return {"Authorization": f"Bearer {token}"}
        raise RegistryError(f"{what}: registry {self.host} asks for `{kind}` authentication, which nsbox does "
                            "not speak")

    def _token(self, params: dict[str, str], scope: str, what: str) -> str:
        realm = params.get("realm")
        if not realm or urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryError(f"{what}: registry {self.host}: a bearer challenge without a usable realm")
        if urllib.parse.urlsplit(realm).scheme == "http" and not self.may_use_http:
            raise RegistryError(f"{what}: registry {self.host}: refusing a token realm over plain HTTP ({realm})")
        query = {"scope": scope} if scope else {}
        if params.get("service"):
            query["service"] = params["service"]
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"Authorization": "Basic " + _basic(self.credentials)} if self.credentials else {}
        r = self._raw("GET", url, headers, what)
        try:
            body = r.read(1 << 20)
        finally:
            r.close()
        if r.status in (401, 403):
            raise RegistryError(f"{what}: the token service of {self.host} refused the "
                                f"{'credentials' if self.credentials else 'anonymous request'} ({r.status}; "
                                f"nsbox login {self.name}?)")
        if r.status != 200:
            raise RegistryError(f"{what}: the token service of {self.host} answered {r.status}")
        try:
            data = jsonio.loads(body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{what}: the token service of {self.host} answered without a token")
        self.tokens[scope] = token
        return token

    def get(self, repo: str, path: str, what: str, headers: dict[str, str] | None = None) -> Response:
        """GET /v2/<repo>/<path> with authentication; raises on statuses other than 200/206."""
        scope = f"repository:{repo}:pull"
        url = f"{self._base(what)}/v2/{repo}/{path}"
        for attempt in (1, 2):
            r = self._raw("GET", url, {**(headers or {}), **self._auth_header(scope, what)}, what)
            if r.status == 401 and attempt == 1:
                header = r.header("WWW-Authenticate") or ""
                r.close()
                self.tokens.pop(scope, None)
                if header:
                    self.challenge = parse_challenge(header)
                continue
            break
        if r.status in (200, 206):
            return r
        r.close()
        if r.status == 404:
            raise NotFound(f"{what}: not found on {self.host}")
        if r.status in (401, 403):
            raise RegistryError(f"{what}: {self.host} denied access ({r.status}; nsbox login {self.name}?)")
        raise RegistryError(f"{what}: {self.host} answered {r.status}")

    def manifest(self, repo: str, reference: str, accept: str, what: str) -> tuple[bytes, str]:
        r = self.get(repo, f"manifests/{reference}", what, {"Accept": accept})
        try:
            length = r.header("Content-Length")
            if length and length.isdigit() and int(length) > (4 << 20):
                raise ConfigError(f"{what}: a manifest of {length} bytes (more than 4 MiB)")
            data = r.read((4 << 20) + 1)
            if len(data) > 4 << 20:
                raise ConfigError(f"{what}: a manifest of more than 4 MiB")
            return data, r.header("Content-Type") or ""
        except TimeoutError:
            raise RegistryError(f"{what}: registry {self.host} stopped sending within {self.timeout:g}s") from None
        finally:
            r.close()


def _basic(creds: tuple[str, str] | None) -> str:
    user, password = creds or ("", "")
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def insecure_in_conf(registry: str) -> bool:
    """registries.conf ``[[registry]]`` with this location and ``insecure = true``."""
    from .refs import registries_conf

    data = registries_conf()
    for entry in data.get("registry", []) or []:
        if isinstance(entry, dict) and entry.get("location") == registry and entry.get("insecure") is True:
            return True
    return False
