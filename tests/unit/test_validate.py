from __future__ import annotations

import pytest

from nsbox.errors import ConfigError
from nsbox.spec import model as m
from nsbox.spec.validate import problems, validate
from nsbox.specgen.builder import Host, RootfsInput, build
from nsbox.specgen.options import RunOptions


def paths(spec):
    return [e.path for e in problems(spec)]


def test_built_specs_are_valid(tmp_path):
    (tmp_path / "sub").write_text("")
    for euid in (0, 1000):
        h = Host(euid=euid, egid=euid, subuid=str(tmp_path / "sub"), subgid=str(tmp_path / "sub"))
        s = build(RunOptions(command=("sh",), time_offset=("boottime=5",)), cid="a" * 64,
                  rootfs=RootfsInput("/r"), host=h, cgroup_parent="/nsbox")
        assert problems(s) == []
        validate(s)


def test_each_problem_has_its_path():
    s = m.Spec(
        oci_version="2.0",
        process=m.Process(args=(), cwd="rel", env=("NOEQ",),
                          rlimits=(m.Rlimit(type="RLIMIT_BOGUS", hard=1, soft=2),)),
        mounts=(m.Mount(destination="rel"),),
        hostname="h",
        linux=m.Linux(namespaces=(m.Namespace(type="pid"), m.Namespace(type="pid"), m.Namespace(type="mount"),
                                  m.Namespace(type="nope", path="rel")),
                      uid_mappings=(m.IDMapping(container_id=0, host_id=1, size=0),),
                      time_offsets={"realtime": m.TimeOffset(secs=1)},
                      rootfs_propagation="sideways"),
    )
    got = paths(s)
    for want in ("ociVersion", "root.path", "process.args", "process.cwd", "process.env[0]",
                 "process.rlimits[0].type", "process.rlimits[0]", "mounts[0].destination",
                 "linux.namespaces[1].type", "linux.namespaces[3].type", "linux.namespaces[3].path",
                 "linux.uidMappings", "linux.uidMappings[0].size", "linux.gidMappings",
                 "linux.timeOffsets.realtime", "linux.timeOffsets", "hostname", "linux.rootfsPropagation"):
        assert want in got, want
    with pytest.raises(ConfigError, match=r"linux\.uidMappings\[0\]\.size: must be > 0"):
        validate(s)
