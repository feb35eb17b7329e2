"""Image reference parsing and short-name resolution (nsbox.image.refs)."""

from __future__ import annotations

import pytest

from nsbox.errors import ConfigError
from nsbox.image import refs

D = "sha256:" + "a" * 64


@pytest.mark.parametrize("text,registry,repo,tag,digest", [
    ("alpine", "", "alpine", None, None),
    ("alpine:3.20", "", "alpine", "3.20", None),
    ("library/alpine", "", "library/alpine", None, None),
    ("docker.io/library/alpine:latest", "docker.io", "library/alpine", "latest", None),
    ("localhost:5000/a/b-c__d.e:v1_2", "localhost:5000", "a/b-c__d.e", "v1_2", None),
    ("localhost/x", "localhost", "x", None, None),
    ("127.0.0.1:5000/x@" + D, "127.0.0.1:5000", "x", None, D),
    ("quay.io/x/y:t@" + D, "quay.io", "x/y", "t", D),
    ("a--b", "", "a--b", None, None),
])
def test_parse(text, registry, repo, tag, digest):
    r = refs.parse(text)
    assert (r.registry, r.repository, r.tag, r.digest) == (registry, repo, tag, digest)
    assert str(r) == text


@pytest.mark.parametrize("text,msg", [
    ("", "empty"),
    ("Alpine", "invalid repository name"),
    ("a b", "spaces"),
    ("alpine:", "invalid tag"),
    ("alpine:-x", "invalid tag"),
    ("a/../b", "invalid repository name"),
    ("x@sha256:abc", "64 lowercase hex"),
    ("x@md5:" + "a" * 32, "expected sha256"),
    ("a_/b", "invalid repository name"),
    ("bad_host:5000:1/x", "invalid registry"),
])
def test_parse_refused(text, msg):
    with pytest.raises(ConfigError, match=msg):
        refs.parse(text)


def test_qualified_like_docker():
    assert str(refs.parse("alpine").qualified()) == "docker.io/library/alpine:latest"
    assert str(refs.parse("user/app").qualified()) == "docker.io/user/app:latest"
    assert str(refs.parse("x@" + D).qualified()) == "docker.io/library/x@" + D
    assert str(refs.parse("alpine").qualified("localhost")) == "localhost/alpine:latest"
    assert str(refs.parse("quay.io/a/b:1").qualified()) == "quay.io/a/b:1"


def test_search_registries(tmp_path):
    conf = tmp_path / "registries.conf"
    conf.write_text('unqualified-search-registries = ["registry.fedoraproject.org", "docker.io"]\n')
    regs = refs.search_registries((str(conf),))
    assert regs == ["registry.fedoraproject.org", "docker.io"]
    c = [str(x) for x in refs.candidates(refs.parse("fedora"), regs)]
    assert c == ["registry.fedoraproject.org/fedora:latest", "docker.io/library/fedora:latest"]
    assert refs.search_registries((str(tmp_path / "missing"),)) == ["docker.io"]
    conf.write_text("not = [toml")
    with pytest.raises(ConfigError, match="registries.conf"):
        refs.search_registries((str(conf),))


def test_check_digest():
    assert refs.check_digest(D) == D
    with pytest.raises(ConfigError, match="expected 64"):
        refs.check_digest("sha256:" + "A" * 64)
