"""``import nsbox``: the Python API, driven as a user's program drives it, as root
and as an unprivileged user (each check runs in a fresh interpreter as that
user, configured with the session's state root and cgroup parent)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from ..conftest import CGROUP_PARENT
from .leaks import leftovers


def python(runner) -> str:
    return str(Path(runner.nsbox).parent / "python3")


def api(runner, code: str, *, timeout: float = 120, check: bool = True) -> dict:
    """Run ``code`` (which sets ``out``, a JSON-able dict) with nsbox imported and
    configured; return ``out``."""
    prelude = textwrap.dedent(f"""
        import json, os, sys, nsbox
        nsbox.configure(root={runner.root!r}, cgroup_parent={CGROUP_PARENT!r})
        out = {{}}
    """)
    script = prelude + textwrap.dedent(code) + "\nsys.stdout.write('\\nRESULT ' + json.dumps(out))\n"
    argv = runner.argv("x")[:-2] + [python(runner), "-c", script] if runner.rootless else \
        [python(runner), "-c", script]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd="/")
    if check and r.returncode != 0:
        raise AssertionError(f"exit {r.returncode}\nstdout: {r.stdout[-3000:]}\nstderr: {r.stderr[-3000:]}")
    assert "Traceback" not in r.stderr or not check, r.stderr
    line = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")]
    assert line, f"no result\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}"
    return json.loads(line[-1][len("RESULT "):])


def test_results_and_reasons(runner):
    out = api(runner, """
        r = nsbox.run(["sh", "-c", "echo out; echo err >&2; exit 7"])
        out["exit"] = [r.returncode, r.stdout.decode(), r.stderr.decode(), str(r.reason), r.signal]
        r = nsbox.run(["python3", "-c", "import ctypes; ctypes.string_at(0)"])  # a real fault kills even PID 1
        out["signal"] = [r.returncode, str(r.reason), r.signal]
        t = __import__("time").monotonic()
        r = nsbox.run(["sleep", "30"], timeout=0.5)
        out["timeout"] = [r.returncode, str(r.reason), __import__("time").monotonic() - t]
        r = nsbox.run(["sh", "-c", "echo héllo"], text=True)
        out["text"] = [r.stdout, type(r.stdout).__name__]
        try:
            nsbox.run(["false"]).check_returncode()
        except nsbox.ProcessError as e:
            out["check"] = [str(e), e.returncode, isinstance(e, nsbox.Error)]
        try:
            nsbox.run(["false"], check=True)
        except nsbox.ProcessError as e:
            out["check_kw"] = e.result.returncode
        r = nsbox.run(["true"])
        out["usage"] = [r.cpu_time is not None, r.peak_memory, r.wall_time > 0, len(r.container_id)]
        try:
            nsbox.run(["/no/such/command"])
        except nsbox.ExecError as e:
            out["noexec"] = [str(e), e.exit_code]
    """)
    assert out["exit"] == [7, "out\n", "err\n", "exited", None]
    assert out["signal"] == [128 + 11, "signalled", 11]
    code, reason, took = out["timeout"]
    assert (code, reason) == (137, "timed-out") and took < 10
    assert out["text"] == ["héllo\n", "str"]
    assert out["check"] == ["command `false` exited with status 1", 1, True]
    assert out["check_kw"] == 1
    assert out["usage"][0] and out["usage"][1] > 0 and out["usage"][2] and out["usage"][3] == 64
    assert out["noexec"][1] == 127 and "/no/such/command" in out["noexec"][0]


@pytest.mark.root
def test_oom_kill_reported(root_runner):
    out = api(root_runner, """
        r = nsbox.run(["python3", "-c", "b = bytearray(256 << 20); b[::4096] = b'x' * len(b[::4096])"],
                      memory="32m", memory_swap="32m")
        out["r"] = [r.returncode, str(r.reason), r.peak_memory]
    """)
    code, reason, peak = out["r"]
    assert (code, reason) == (137, "oom-killed")
    assert 16 << 20 < peak <= 33 << 20


@pytest.mark.rootless
def test_rootless_limits_are_warnings(rootless_runner):
    """Without a delegated cgroup the limit is not applied: said on the result and
    as a LimitWarning, never silently."""
    out = api(rootless_runner, """
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = nsbox.run(["true"], memory="64m")
        out["r"] = [r.returncode, r.warnings, [str(w.message) for w in caught if w.category is nsbox.LimitWarning]]
    """)
    code, warned, caught = out["r"]
    assert code == 0 and warned and warned == caught and warned[0].startswith("memory: not applied")


def test_big_io_without_deadlock(runner):
    out = api(runner, """
        data = os.urandom(6 << 20)
        r = nsbox.run(["sh", "-c", "tee /proc/self/fd/2"], input=data)
        out["r"] = [r.returncode, r.stdout == data, r.stderr == data, len(r.stdout)]
    """)
    assert out["r"] == [0, True, True, 6 << 20]


def test_embedding_leaves_the_host_program_alone(runner):
    """A host program with its own SIGCHLD and SIGINT handlers, children of its own
    and 8 threads calls nsbox.run concurrently: its handlers, children and fds are
    as before, and 1,000 runs grow its RSS by less than 5 MiB."""
    out = api(runner, """
        import signal, subprocess, threading, resource
        seen = []
        def on_chld(sig, frame): seen.append(sig)
        def on_int(sig, frame): pass
        signal.signal(signal.SIGCHLD, on_chld)
        signal.signal(signal.SIGINT, on_int)
        kids = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
        def rss():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) * 1024
        for _ in range(20):
            nsbox.run(["true"])  # warm up: the modules the runs use are imported now
        fds = sorted(os.listdir("/proc/self/fd"))
        before = rss()
        errors = []
        def worker(n):
            try:
                for i in range(125):
                    r = nsbox.run(["sh", "-c", f"echo {n}-{i}"])
                    if r.returncode != 0 or r.stdout != f"{n}-{i}\\n".encode():
                        errors.append((n, i, r.returncode, r.stdout))
            except BaseException as e:
                errors.append(repr(e))
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        out["errors"] = errors[:5]
        out["growth"] = rss() - before
        out["fds"] = sorted(os.listdir("/proc/self/fd")) == fds
        out["handlers"] = [signal.getsignal(signal.SIGCHLD) is on_chld, signal.getsignal(signal.SIGINT) is on_int]
        out["kids_alive"] = [k.poll() is None for k in kids]
        for k in kids: k.kill()
        out["kids_reaped"] = [k.wait() for k in kids]
    """, timeout=600)
    assert out["errors"] == []
    assert out["handlers"] == [True, True]
    assert out["kids_alive"] == [True, True] and out["kids_reaped"] == [-9, -9]
    assert out["fds"]
    assert out["growth"] < 5 << 20, f"RSS grew by {out['growth'] / 2**20:.1f} MiB over 1,000 runs"


def test_fifty_concurrent_aruns(runner):
    out = api(runner, """
        import asyncio
        async def main():
            rs = await asyncio.gather(*[nsbox.arun(["sh", "-c", f"sleep 0.2; echo {i}"]) for i in range(50)])
            return [r.stdout.decode().strip() for r in rs], [r.returncode for r in rs]
        outs, codes = asyncio.run(main())
        out["r"] = [outs == [str(i) for i in range(50)], set(codes) == {0}]
        async def cancelled():
            task = asyncio.ensure_future(nsbox.arun(["sleep", "30"]))
            await asyncio.sleep(1)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                return True
        out["cancel"] = asyncio.run(cancelled())
        async def timed():
            r = await nsbox.arun(["sleep", "30"], timeout=0.3)
            return [r.returncode, str(r.reason)]
        out["timeout"] = asyncio.run(timed())
    """, timeout=300)
    assert out["r"] == [True, True]
    assert out["cancel"] is True
    assert out["timeout"] == [137, "timed-out"]
    assert not leftovers(runner.root)


def test_container_lifecycle_and_the_cli(runner):
    name = f"api-{os.getpid()}-{int(runner.rootless)}"
    out = api(runner, f"""
        c = nsbox.Container(["sh", "-c", "echo booted; exec sleep 300"], name={name!r})
        c.start()
        out["status"] = c.status
        out["pid"] = c.pid > 0
        out["ns"] = sorted(c.namespaces)
        r = c.exec(["sh", "-c", "cat; hostname; exit 3"], input=b"in\\n")
        out["exec"] = [r.returncode, r.stdout.decode()]
        out["listed"] = [x.name for x in nsbox.containers()]
        stats = c.stats()
        out["stats"] = [stats["pids"], stats["cpu_time"] is not None]
        import asyncio
        out["aexec"] = asyncio.run(c.aexec(["echo", "async"])).stdout.decode()
        out["logs"] = c.logs().decode()
    """)
    assert out["status"] == "running" and out["pid"]
    assert "pid" in out["ns"] and "net" in out["ns"]
    assert out["exec"] == [3, f"in\n{name}\n"] or out["exec"][0] == 3
    assert name in out["listed"]
    assert out["aexec"] == "async\n" and "booted" in out["logs"]
    # the CLI sees the API's container, and the API attaches to the CLI's
    ps = runner.run("ps", "--format", "json", check=True)
    assert name in [e["name"] for e in json.loads(ps.stdout)]
    assert runner.run("exec", name, "echo", "from-cli", check=True).stdout == "from-cli\n"
    cli_name = name + "-cli"
    runner.run("run", "-d", "--name", cli_name, "sleep", "300", check=True)
    out = api(runner, f"""
        c = nsbox.Container.attach({cli_name!r})
        out["exec"] = c.exec(["echo", "from-api"]).stdout.decode()
        c.stop(timeout=1)
        r = c.wait(timeout=30)
        out["wait"] = [r.returncode, str(r.reason)]
        c.remove()
        mine = nsbox.Container.attach({name!r})
        with mine:
            pass  # leaving the block removes it
        try:
            nsbox.Container.attach({name!r})
        except nsbox.NotFound as e:
            out["gone"] = str(e)
    """)
    assert out["exec"] == "from-api\n"
    assert out["wait"] == [137, "signalled"]
    assert name in out["gone"]
    assert runner.run("ps", "-a", "-q").stdout.strip() == ""
    assert not leftovers(runner.root)


def test_bad_input_is_a_config_error(runner):
    out = api(runner, """
        cases = [dict(memory="lots"), dict(pids_limit="many"), dict(volumes=["nodst"]), dict(cpus=-1),
                 dict(env=[object()]), dict(read_only="yes"), dict(network="nonsense"), dict(tmpfs={"rel": ""}),
                 dict(ulimits={"nofile": (10, 5)}), dict(cap_add=["NOT_A_CAP"])]
        out["errors"] = []
        fds = sorted(os.listdir("/proc/self/fd"))
        for kw in cases:
            try:
                nsbox.run(["true"], **kw)
                out["errors"].append(None)
            except nsbox.ConfigError as e:
                out["errors"].append(str(e))
        out["fds"] = sorted(os.listdir("/proc/self/fd")) == fds
        try:
            nsbox.run(["true"], memroy="1g")
        except TypeError as e:
            out["typo"] = str(e)
        try:
            nsbox.run("echo hi")
        except nsbox.ConfigError as e:
            out["argv"] = str(e)
    """)
    errors = out["errors"]
    keywords = ["memory", "pids_limit", "volumes", "cpus", "env", "read_only", "network", "tmpfs", "ulimits",
                "cap_add"]
    values = ["lots", "many", "nodst", "-1", "object", "yes", "nonsense", "rel", "nofile", "NOT_A_CAP"]
    for err, kw, value in zip(errors, keywords, values):
        assert err is not None, f"{kw}: accepted"
        assert err.startswith(kw), err
        assert value in err, err
        assert "--" not in err.split(":")[0], err
    assert out["fds"], "a refused run left a descriptor open in the caller"
    assert out["typo"] == "nsbox.run() got an unexpected keyword argument 'memroy'"
    assert "argv" in out["argv"] and "echo hi" in out["argv"]
    assert not leftovers(runner.root)


@pytest.mark.root
@pytest.mark.parametrize("stage", ["setup_cgroup", "_drive_init", "before_start", "start", "wait"])
def test_failure_at_any_stage_leaves_nothing(root_runner, stage):
    out = api(root_runner, f"""
        import nsbox.runtime.create as C, nsbox.runtime.run as R, nsbox.api.run as A
        class Boom(Exception): pass
        def boom(*a, **k): raise Boom({stage!r})
        stage = {stage!r}
        fds = sorted(os.listdir("/proc/self/fd"))
        if stage in ("setup_cgroup", "_drive_init"):
            real = getattr(C, stage)
            def failing(created, *a, **k):
                real(created, *a, **k)
                raise Boom(stage)
            setattr(C, stage, failing)
        elif stage == "before_start":
            os.pidfd_open = boom
        elif stage == "start":
            R.start = boom
        else:
            A._pump = boom
        try:
            nsbox.run(["sleep", "30"])
        except Boom as e:
            out["raised"] = str(e)
        out["fds"] = sorted(os.listdir("/proc/self/fd")) == fds
        with open(f"/proc/self/task/{{os.getpid()}}/children") as f:
            out["children"] = f.read().split()
    """)
    assert out["raised"] == stage
    assert out["fds"] and out["children"] == []
    assert not leftovers(root_runner.root)


def test_caller_killed_mid_run_leaves_nothing(runner):
    marker = f"nsbox-api-kill-{os.getpid()}-{int(runner.rootless)}"
    prelude = (f"import nsbox; nsbox.configure(root={runner.root!r}, cgroup_parent={CGROUP_PARENT!r}); "
               f"nsbox.run(['sh', '-c', 'sleep 300; echo {marker}'], stdout=None)")
    argv = runner.argv("x")[:-2] + [python(runner), "-c", prelude] if runner.rootless else \
        [python(runner), "-c", prelude]
    p = subprocess.Popen(argv, cwd="/")
    try:
        deadline = time.monotonic() + 30
        while not any(marker in line for line in _ps()):
            assert time.monotonic() < deadline, "the container never started"
            time.sleep(0.05)
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    runner.run("ps", check=True)  # any nsbox command collects what the dead caller left
    deadline = time.monotonic() + 10
    while any(marker in line for line in _ps()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(marker in line for line in _ps())
    assert not leftovers(runner.root)


def _ps() -> list[str]:
    return subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True).stdout.splitlines()


@pytest.mark.root
def test_uid_4294967295_is_refused_not_left_as_root(root_runner):
    # (uid_t)-1 means "unchanged" to setresuid(2): asked for that uid, a command
    # must fail, never run on as root
    out = api(root_runner, """
        for kw in ({"user": "4294967295:0"}, {"user": "0:4294967295"}):
            try:
                r = nsbox.run(["id", "-u"], stdout=nsbox.PIPE, text=True, **kw)
                out[kw["user"]] = r.stdout.strip()
            except nsbox.Error as e:
                out[kw["user"]] = "refused: " + str(e)
        try:
            with nsbox.Pool(size=1, user="4294967295:0") as p:
                out["pool"] = p.run(["id", "-u"], stdout=nsbox.PIPE, text=True).stdout.strip()
        except nsbox.Error as e:
            out["pool"] = "refused: " + str(e)
    """)
    for key in ("4294967295:0", "0:4294967295", "pool"):
        assert out[key].startswith("refused: ") and "4294967295" in out[key], (key, out[key])


def test_an_execve_failure_is_an_exec_error(runner):
    # execve itself fails (E2BIG: one argument over MAX_ARG_STRLEN): the ExecError
    # must reach the caller, not an OSError from the clean-up after it
    out = api(runner, """
        import asyncio
        big = ["true", "x" * 200000]
        try:
            nsbox.run(big)
            out["run"] = "no error"
        except Exception as e:
            out["run"] = [type(e).__name__, str(e), getattr(e, "exit_code", None)]
        try:
            asyncio.run(nsbox.arun(big))
            out["arun"] = "no error"
        except Exception as e:
            out["arun"] = [type(e).__name__, str(e), getattr(e, "exit_code", None)]
        out["after"] = nsbox.run(["true"]).returncode
    """)
    for key in ("run", "arun"):
        assert out[key][0] == "ExecError" and "Argument list too long" in out[key][1], (key, out[key])
    assert out["after"] == 0
