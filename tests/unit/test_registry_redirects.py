"""The registry client's redirects, against fake connections (no network): where
the registry's credentials may follow, and which schemes a redirect may name."""

from __future__ import annotations

import pytest

from nsbox.image import registry as R


class FakeResponse:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status, self.headers = status, headers

    def getheader(self, name: str) -> str | None:
        return self.headers.get(name)

    def read(self, n=None) -> bytes:
        return b"{}"


class FakeConn:
    def __init__(self, log: list, scheme: str, host: str, answers: dict) -> None:
        self.log, self.scheme, self.host, self.answers = log, scheme, host, answers

    def request(self, method, path, headers=None):
        self.log.append((self.scheme, self.host, path, dict(headers or {})))
        self.path = path

    def getresponse(self):
        status, headers = self.answers.get((self.scheme, self.host, self.path), (200, {}))
        return FakeResponse(status, headers)

    def close(self) -> None:
        pass


def client(monkeypatch, answers: dict, name: str = "registry.example") -> tuple[R.Registry, list]:
    reg = R.Registry(name, credentials=("user", "secret"))
    log: list = []
    monkeypatch.setattr(reg, "_connect", lambda scheme, host: FakeConn(log, scheme, host, answers))
    return reg, log


AUTH = {"Authorization": "Basic dXNlcjpzZWNyZXQ="}


def test_a_redirect_from_https_to_plain_http_is_refused(monkeypatch):
    # same host, scheme downgraded: the credentials would cross the network in clear
    answers = {("https", "registry.example", "/v2/x/blobs/d"): (302, {"Location": "http://registry.example/b/d"})}
    reg, log = client(monkeypatch, answers)
    with pytest.raises(R.RegistryError, match=r"pull x: registry\.example redirected to plain HTTP "
                                              r"\(http://registry\.example/b/d\): refused"):
        reg._raw("GET", "https://registry.example/v2/x/blobs/d", AUTH, "pull x")
    assert [(s, h) for s, h, _p, _hd in log] == [("https", "registry.example")]


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://registry.example/x", "gopher://h/x"])
def test_a_redirect_to_another_scheme_is_refused(monkeypatch, location):
    answers = {("https", "registry.example", "/v2/x/blobs/d"): (307, {"Location": location})}
    reg, log = client(monkeypatch, answers)
    with pytest.raises(R.RegistryError, match="redirected to .*: refused"):
        reg._raw("GET", "https://registry.example/v2/x/blobs/d", AUTH, "pull x")
    assert len(log) == 1


def test_credentials_do_not_follow_a_redirect_to_another_host_or_port(monkeypatch):
    answers = {("https", "registry.example", "/v2/x/blobs/d"): (302, {"Location": "https://registry.example:444/d"}),
               ("https", "registry.example:444", "/d"): (302, {"Location": "https://cdn.example/d?sig=1"})}
    reg, log = client(monkeypatch, answers)
    r = reg._raw("GET", "https://registry.example/v2/x/blobs/d", AUTH, "pull x")
    assert r.status == 200
    assert [(s, h, p) for s, h, p, _ in log] == [("https", "registry.example", "/v2/x/blobs/d"),
                                                ("https", "registry.example:444", "/d"),
                                                ("https", "cdn.example", "/d?sig=1")]
    assert "Authorization" in log[0][3] and all("Authorization" not in hd for *_, hd in log[1:])


def test_an_insecure_or_loopback_registry_may_be_redirected_to_http(monkeypatch):
    answers = {("https", "127.0.0.1:5000", "/v2/x/blobs/d"): (302, {"Location": "http://127.0.0.1:5000/d"})}
    reg, log = client(monkeypatch, answers, name="127.0.0.1:5000")
    assert reg._raw("GET", "https://127.0.0.1:5000/v2/x/blobs/d", {}, "pull x").status == 200
    assert [s for s, *_ in log] == ["https", "http"]
