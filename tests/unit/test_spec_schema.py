"""The OCI model against the runtime-spec's own schemas and test configs
(../shared/reference/oci-runtime-spec/schema): the configs nsbox builds are valid
by the schema, the spec's good Linux examples load and validate, its bad ones fail
with the JSON path of the bad value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nsbox.errors import ConfigError
from nsbox.spec import model, validate
from nsbox.specgen.builder import Host, RootfsInput, build
from nsbox.specgen.options import RunOptions

SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "reference" / "oci-runtime-spec" / "schema"


@pytest.fixture(scope="module")
def validator():
    if not (SCHEMA / "config-schema.json").is_file():
        pytest.fail(f"the runtime-spec schemas are not at {SCHEMA} (../shared beside the checkout)")
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    docs = {p.name: json.loads(p.read_text()) for p in SCHEMA.glob("*.json")}
    registry = Registry().with_resources(
        (name, Resource.from_contents(doc, default_specification=DRAFT4))
        for name, doc in docs.items())
    return jsonschema.Draft4Validator(docs["config-schema.json"], registry=registry)


def _host(tmp_path, euid: int) -> Host:
    (tmp_path / "etc").mkdir(exist_ok=True)
    (tmp_path / "etc" / "subuid").write_text("u:100000:65536\n")
    (tmp_path / "etc" / "subgid").write_text("u:100000:65536\n")
    return Host(euid=euid, egid=euid, subuid=str(tmp_path / "etc/subuid"), subgid=str(tmp_path / "etc/subgid"))


@pytest.mark.parametrize("euid, kw", [
    (0, {}),
    (1000, {}),
    (0, dict(memory="256m", memory_swap="512m", cpus="1.5", pids_limit="64", read_only=True,
             tmpfs=("/tmp:size=64m",), cap_add=("NET_ADMIN",), ulimit=("nofile=1024:2048",),
             hostname="box", init=True, env=("A=1",), sysctl=("net.ipv4.ip_forward=1",))),
    (0, dict(privileged=True, share=("net",))),
    (1000, dict(userns="private", time_offset=("boottime=10",), security_opt=("no-new-privileges=false",))),
])
def test_what_nsbox_builds_is_valid_by_the_schema(tmp_path, validator, euid, kw):
    spec = build(RunOptions(command=("sh", "-c", "true"), **kw), cid="c" * 64,
                 rootfs=RootfsInput(str(tmp_path)), host=_host(tmp_path, euid))
    errors = sorted(validator.iter_errors(spec.to_json()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors[:5])
    validate.validate(spec)  # and by our own rules


@pytest.mark.parametrize("name", ["minimal.json", "minimal-for-start.json", "linux-netdevice.json",
                                  "linux-rdma.json"])
def test_the_specs_good_linux_configs_load(name, validator):
    data = json.loads((SCHEMA / "test" / "config" / "good" / name).read_text())
    assert not list(validator.iter_errors(data))
    validate.validate(model.load(data))


def test_pre_1_0_configs_are_refused_by_name():
    """spec-example.json is a 0.5.0-dev config: valid by the schema, refused by version."""
    data = json.loads((SCHEMA / "test" / "config" / "good" / "spec-example.json").read_text())
    with pytest.raises(ConfigError, match="ociVersion: `0.5.0-dev` is not a 1.x version"):
        validate.validate(model.load(data))


@pytest.mark.parametrize("name, path", [
    ("linux-hugepage.json", "linux.resources.hugepageLimits[0].pageSize"),
    ("linux-netdevice.json", "linux.netDevices.eth0.name"),
    ("linux-rdma.json", "linux.resources.rdma.mlx5_1.hcaHandles"),
])
def test_the_specs_bad_linux_configs_fail_with_the_json_path(name, path, validator):
    data = json.loads((SCHEMA / "test" / "config" / "bad" / name).read_text())
    assert list(validator.iter_errors(data))  # the schema refuses it too
    with pytest.raises(ConfigError) as e:
        validate.validate(model.load(data))
    assert f"{path}: " in str(e.value)


@pytest.mark.parametrize("resources, path", [
    ({"memory": {"limit": "1g"}}, "linux.resources.memory.limit: must be an integer"),
    ({"pids": {"limit": 1.5}}, "linux.resources.pids.limit: must be an integer"),
    ({"cpu": {"shares": -1}}, "linux.resources.cpu.shares: must be an integer from 0"),
    ({"blockIO": {"weight": 70000}}, "linux.resources.blockIO.weight: must be an integer from 0 to 65535"),
    ({"devices": [{"type": "c"}]}, "linux.resources.devices[0].allow: is required"),
    ({"unified": {"memory.high": 5}}, "linux.resources.unified.memory.high: must be a string"),
    ({"memory": {"disableOOMKiller": "yes"}}, "linux.resources.memory.disableOOMKiller: must be true or false"),
])
def test_resource_values_are_typed(resources, path, validator):
    data = {"ociVersion": "1.3.0", "root": {"path": "rootfs"}, "linux": {"resources": resources}}
    assert list(validator.iter_errors(data)), "the schema accepts it: the test is wrong"
    with pytest.raises(ConfigError) as e:
        validate.validate(model.load(data))
    assert path in str(e.value)
