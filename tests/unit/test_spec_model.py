from __future__ import annotations

import json

import pytest

from nsbox import jsonio
from nsbox.spec import model as m
from nsbox.spec.record import SpecError


def test_round_trip_with_oci_names():
    s = m.Spec(process=m.Process(args=("sh",), no_new_privileges=True, user=m.User(uid=1, additional_gids=(5,))),
               root=m.Root(path="rootfs"),
               linux=m.Linux(uid_mappings=(m.IDMapping(container_id=0, host_id=1000, size=1),),
                             time_offsets={"boottime": m.TimeOffset(secs=5)}, cgroups_path="/nsbox/x"))
    j = s.to_json()
    assert j["ociVersion"] == "1.3.0"
    assert j["process"]["noNewPrivileges"] is True
    assert j["process"]["user"]["additionalGids"] == [5]
    assert j["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 1000, "size": 1}]
    assert j["linux"]["timeOffsets"] == {"boottime": {"secs": 5, "nanosecs": 0}}
    assert m.load(json.loads(json.dumps(j))) == s


def test_errors_carry_the_json_path():
    with pytest.raises(SpecError, match=r"^linux\.uidMappings\[1\]\.size: must be an integer$"):
        m.load({"linux": {"uidMappings": [{"containerID": 0, "hostID": 1, "size": 1},
                                          {"containerID": 1, "hostID": 2, "size": "x"}]}})
    with pytest.raises(SpecError, match=r"^root\.path: is required$"):
        m.load({"root": {}})
    with pytest.raises(SpecError, match=r"^process\.args: must be an array$"):
        m.load({"process": {"args": "sh"}})


def test_unknown_properties_are_ignored():
    # config.md: runtimes MUST NOT error on unknown properties
    s = m.load({"ociVersion": "1.3.0", "somethingNew": 1, "process": {"args": ["x"], "futureField": {}}})
    assert s.process.args == ("x",)


def test_records_are_frozen():
    p = m.Process()
    with pytest.raises(AttributeError):
        p.cwd = "/x"  # type: ignore[misc]
    assert p.replace(cwd="/x").cwd == "/x" and p.cwd == "/"


def test_jsonio_matches_json():
    data = {"a": [1, 2.5, None, True, False, "x\"y\n\u00e9\U0001f600"], "b": {}, "c": {"d": -3}, "e": []}
    assert json.loads(jsonio.dumps(data)) == data
    assert json.loads(jsonio.dumps(data, indent=2)) == data
    assert jsonio.loads(json.dumps(data)) == data
    with pytest.raises(jsonio.JSONError):
        jsonio.loads('{"a": }')
    with pytest.raises(jsonio.JSONError):
        jsonio.loads('{"a": 1} x')


def test_write_atomic(tmp_path):
    p = tmp_path / "s.json"
    jsonio.write_atomic(str(p), {"k": 1})
    assert jsonio.load_file(str(p)) == {"k": 1}
    assert [x.name for x in tmp_path.iterdir()] == ["s.json"]
    assert p.stat().st_mode & 0o777 == 0o600


def test_overlay_path_escaping():
    paths = ["/a:b,c", "/x\\y", "/plain"]
    joined = m.overlay_join(paths)
    assert joined == "/a\\:b\\,c:/x\\\\y:/plain"
    assert m.overlay_split(joined) == paths
