"""nsbox.run's keywords -> RunOptions, and errors that name the keyword (no privileges)."""

from __future__ import annotations

import pytest

import nsbox
from nsbox.api.options import keywords, relabel, run_options
from nsbox.errors import ConfigError
from nsbox.specgen.builder import Host, RootfsInput, build
from nsbox.specgen.options import RunOptions


def test_every_run_flag_is_a_keyword():
    kw = set(keywords())
    for name in ("rootfs", "volumes", "tmpfs", "read_only", "hostname", "env", "cwd", "user", "memory", "cpus",
                 "pids_limit", "network", "publish", "cap_add", "cap_drop", "security_opt", "time_offsets",
                 "uidmap", "gidmap", "userns", "share", "init", "landlock_ro", "landlock_rw", "ulimits"):
        assert name in kw, name
    # every RunOptions field but the command and the run/Container behaviour ones
    fields = {f.name for f in RunOptions._table()} - {"command", "detach", "rm", "interactive", "tty"}
    assert len(kw) == len(fields)


def test_python_forms_become_the_cli_strings():
    o = run_options(["sh"], dict(memory=256 << 20, cpus=1.5, pids_limit=64, env={"A": "1", "B": 2},
                                 tmpfs={"/tmp": "size=64m", "/run": ""}, volumes={"/src": "/dst:ro"},
                                 ulimits={"nofile": (1024, 2048)}, time_offsets={"boottime": 10},
                                 uidmap=[(0, 1000, 1)], cap_add="NET_RAW", read_only=True, cwd="/w"))
    assert o.memory == str(256 << 20) and o.cpus == "1.5" and o.pids_limit == "64"
    assert o.env == ("A=1", "B=2") and o.tmpfs == ("/tmp:size=64m", "/run")
    assert o.volume == ("/src:/dst:ro",) and o.ulimit == ("nofile=1024:2048",)
    assert o.time_offset == ("boottime=10",) and o.uidmap == ("0:1000:1",) and o.cap_add == ("NET_RAW",)
    assert o.read_only is True and o.workdir == "/w" and o.command == ("sh",)


def test_docker_py_volume_form():
    o = run_options(["sh"], dict(volumes={"/src": {"bind": "/dst", "mode": "ro"}}))
    assert o.volume == ("/src:/dst:ro",)


@pytest.mark.parametrize("kw, match", [
    (dict(read_only="yes"), "read_only `'yes'`: expected True or False"),
    (dict(memory=[1]), "memory `[1]`: expected a string or a number"),
    (dict(memory=True), "memory `True`: expected a string or a number"),
    (dict(env=[object()]), "env item `<object object"),
    (dict(env={"A": None}), "env['A'] `None`: expected a string or a number"),
    (dict(publish={"80": 8080}), "publish `{'80': 8080}`: expected a list of strings"),
])
def test_wrong_forms_name_the_keyword(kw, match):
    with pytest.raises(ConfigError) as e:
        run_options(["sh"], kw)
    assert str(e.value).startswith(match)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match=r"^nsbox.run\(\) got an unexpected keyword argument 'memroy'$"):
        run_options(["sh"], {"memroy": "1g"})
    with pytest.raises(TypeError, match="unexpected keyword argument 'detach'"):
        run_options(["sh"], {"detach": True})  # a Container's business, not a keyword of run


@pytest.mark.parametrize("argv", ["echo hi", [], ["a\0b"], [1], None])
def test_argv_must_be_a_list_of_strings(argv):
    with pytest.raises(ConfigError, match="argv"):
        run_options(argv, {})


@pytest.mark.parametrize("kw, want", [
    (dict(memory="lots"), "memory `lots`: expected a size"),
    (dict(pids_limit="many"), "pids_limit `many`: expected an integer"),
    (dict(volumes=["nodst"]), "volumes `nodst`: expected SRC:DST"),
    (dict(tmpfs={"rel": ""}), "tmpfs `rel`: destination must be an absolute path"),
    (dict(cap_add=["NOT_A_CAP"]), "cap_add `NOT_A_CAP`: unknown capability"),
    (dict(ulimits={"nofile": (10, 5)}), "ulimits `nofile=10:5`: the soft limit 10 is above the hard limit 5"),
])
def test_builder_errors_name_the_keyword(tmp_path, kw, want):
    o = run_options(["sh"], kw)
    with pytest.raises(ConfigError) as e:
        build(o, cid="c" * 64, rootfs=RootfsInput(str(tmp_path)), host=Host(euid=0, egid=0, root=str(tmp_path)))
    assert "--" in str(e.value) or str(e.value).startswith("-v")  # the CLI's words, for the CLI
    assert str(relabel(e.value)).startswith(want), str(relabel(e.value))


def test_top_level_names_are_lazy_and_complete():
    for name in nsbox.__all__:
        assert getattr(nsbox, name) is not None
    assert issubclass(nsbox.KernelError, nsbox.Error) and issubclass(nsbox.KernelError, OSError)
    assert issubclass(nsbox.ConfigError, nsbox.Error) and issubclass(nsbox.ConfigError, ValueError)
    for cls in (nsbox.NotFound, nsbox.Conflict, nsbox.ProcessError, nsbox.UserNamespaceUnavailable,
                nsbox.ExecError):
        assert issubclass(cls, nsbox.Error)
    with pytest.raises(AttributeError):
        nsbox.no_such_name  # noqa: B018


def test_spec_errors_are_config_errors():
    from nsbox.spec.record import SpecError

    assert issubclass(SpecError, nsbox.ConfigError)


def test_result_repr_and_check():
    r = nsbox.Result(["sh", "-c", "x"], 137, reason=nsbox.Reason.OOM_KILLED, signal=9, stdout=b"")
    assert "oom-killed" in repr(r)
    with pytest.raises(nsbox.ProcessError, match="command `sh -c x` was OOM-killed \\(exit status 137\\)") as e:
        r.check_returncode()
    assert e.value.result is r and e.value.returncode == 137
    nsbox.Result(["true"], 0).check_returncode()


def test_kernel_error_names_op_path_errno():
    e = nsbox.KernelError(2, "mount `proc` to `/proc`", "/proc")
    assert (e.op, e.path, e.errno) == ("mount `proc` to `/proc`", "/proc", 2)
    assert str(e) == "mount `proc` to `/proc`: No such file or directory"


def test_a_closed_stdio_fd_is_a_config_error_naming_it():
    # (it was a KernelError from inside the container's set-up: "container set-up: Bad file descriptor")
    from nsbox.api.run import _Pipes

    for kw, name in (({"stdin": 9999}, "stdin"), ({"stdout": 9998}, "stdout"), ({"stderr": 9997}, "stderr")):
        args = {"stdin": None, "stdout": None, "stderr": None, **kw}
        with pytest.raises(ConfigError, match=rf"^{name} `999\d`: Bad file descriptor$"):
            _Pipes(None, args["stdin"], args["stdout"], args["stderr"])
