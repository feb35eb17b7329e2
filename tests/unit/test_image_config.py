"""Image config -> run options (Docker's rules), registry challenges, credential files."""

from __future__ import annotations

import base64
import json
import os

import pytest

from nsbox.errors import ConfigError
from nsbox.image import auth
from nsbox.image.config import apply, parse_entrypoint
from nsbox.image.registry import is_loopback, parse_challenge
from nsbox.specgen.options import RunOptions

CFG = {"config": {"Entrypoint": ["/entry"], "Cmd": ["default", "args"], "Env": ["PATH=/img/bin", "A=1"],
                  "WorkingDir": "/work", "User": "1000", "StopSignal": "SIGQUIT"}}


def test_image_defaults():
    o, stop = apply(RunOptions(image="x"), CFG, "x")
    assert o.command == ("/entry", "default", "args")
    assert o.env == ("PATH=/img/bin", "A=1") and o.workdir == "/work" and o.user == "1000"
    assert stop == "SIGQUIT"


def test_user_values_win():
    o, _ = apply(RunOptions(image="x", command=("mine",), env=("A=2",), workdir="/w", user="0"), CFG, "x")
    assert o.command == ("/entry", "mine")  # words after IMAGE replace Cmd only
    assert o.env == ("PATH=/img/bin", "A=1", "A=2") and o.workdir == "/w" and o.user == "0"


def test_entrypoint_override_drops_cmd():
    o, _ = apply(RunOptions(image="x", entrypoint="/bin/echo"), CFG, "x")
    assert o.command == ("/bin/echo",)
    o, _ = apply(RunOptions(image="x", entrypoint='["/bin/sh", "-c"]', command=("true",)), CFG, "x")
    assert o.command == ("/bin/sh", "-c", "true")
    assert parse_entrypoint("") == []
    with pytest.raises(ConfigError, match="not a JSON array"):
        parse_entrypoint("[oops")


def test_no_command_at_all():
    with pytest.raises(ConfigError, match="no Entrypoint or Cmd"):
        apply(RunOptions(image="x"), {"config": {}}, "x")
    with pytest.raises(ConfigError, match="Cmd: expected a list of strings"):
        apply(RunOptions(image="x"), {"config": {"Cmd": "sh"}}, "x")


def test_challenge_parsing():
    kind, p = parse_challenge('Bearer realm="https://auth.example/token",service="registry.example",'
                              'scope="repository:a/b:pull"')
    assert kind == "bearer" and p == {"realm": "https://auth.example/token", "service": "registry.example",
                                      "scope": "repository:a/b:pull"}
    assert parse_challenge('Basic realm="x y"') == ("basic", {"realm": "x y"})
    assert parse_challenge("Bearer realm=unquoted,service=s") == ("bearer", {"realm": "unquoted", "service": "s"})


def test_loopback():
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost:5000") and is_loopback("[::1]:5000")
    assert not is_loopback("registry.example:5000") and not is_loopback("10.0.0.1")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    return tmp_path


def write_auth(path, host, user, password):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"auths": {host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}}, f)


def test_credentials_files_in_order(home):
    write_auth(f"{home}/.docker/config.json", "reg.example", "docker", "d")
    assert auth.lookup("reg.example") == ("docker", "d")
    write_auth(f"{home}/run/containers/auth.json", "reg.example", "podman", "p")
    assert auth.lookup("reg.example") == ("podman", "p")
    path = auth.store("reg.example", "nsbox", "n:with:colons")
    assert path == f"{home}/cfg/nsbox/auth.json" and os.stat(path).st_mode & 0o777 == 0o600
    assert auth.lookup("reg.example") == ("nsbox", "n:with:colons")
    assert auth.lookup("other.example") is None
    write_auth(f"{home}/.docker/config.json", "https://index.docker.io/v1/", "hub", "h")
    assert auth.lookup("docker.io") == ("hub", "h")
    assert auth.remove("reg.example") and not auth.remove("reg.example")


def test_bad_credentials_file(home):
    os.makedirs(f"{home}/cfg/nsbox")
    with open(f"{home}/cfg/nsbox/auth.json", "w") as f:
        f.write("{not json")
    with pytest.raises(ConfigError, match="auth.json`: unreadable"):
        auth.lookup("reg.example")


@pytest.mark.parametrize("field,value,msg", [
    ("WorkingDir", 5, "image `x`: WorkingDir: expected a string"),
    ("WorkingDir", "../../etc", "image `x`: WorkingDir `../../etc`: not an absolute path"),
    ("User", ["root"], "image `x`: User: expected a string"),
    ("User", 1000, "image `x`: User: expected a string"),
    ("StopSignal", 9, "image `x`: StopSignal: expected a string"),
])
def test_odd_config_values_name_the_image_and_field(field, value, msg):
    # a malicious or broken image: a one-line error naming the image's field, not
    # an internal error (non-strings) nor one about -w/-u the user did not give
    with pytest.raises(ConfigError, match=msg.replace("(", r"\(").replace("[", r"\[")):
        apply(RunOptions(image="x"), {"config": {"Cmd": ["sh"], field: value}}, "x")
    o, _ = apply(RunOptions(image="x", workdir="/w", user="0"), {"config": {"Cmd": ["sh"], "WorkingDir": "rel"}}, "x")
    assert o.workdir == "/w"  # the user's -w replaces the image's (and its faults)
