"""A default container is as locked down as Podman's: escape battery and flags.

A small static checker (checker.c, compiled here with gcc) is bind-mounted into
containers running on the embedded default root; it makes raw system calls and
prints one NAME=RESULT line per attempt.  The battery runs once per kind of
caller (root, rootless) in one container, so the ~80 attempts cost one start.
Every attempt of issue 15's classes must fail; ptrace of one's own child stays.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from .lifecycle import containers, run_d, unique

HERE = Path(__file__).resolve().parent
DEFAULT_CAPEFF = "00000000800405fb"  # Podman's set (4.0+): Docker's minus NET_RAW, MKNOD, AUDIT_WRITE
DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
                "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SETFCAP"]

# Each must fail with EPERM, as in Docker: the seccomp profile refuses them (or,
# where the profile would allow them with a capability, the missing capability).
SECCOMP_EPERM = (
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "kexec_load", "kexec_file_load",
    "open_by_handle_at", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
    "syslog", "acct", "iopl", "ioperm", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "userfaultfd", "personality", "setns", "pidfd_setns", "pidfd_getfd", "process_vm_readv", "kcmp",
    "mount", "mount_proc", "mount_bind", "fsopen",
    "open_tree", "umount", "unshare_user", "unshare_mnt", "unshare_net", "unshare_ipc", "unshare_uts",
    "unshare_pid", "unshare_cgroup", "unshare_time", "clone_newuser", "sethostname", "settime",
    "settimeofday", "adjtimex", "clock_adjtime", "vsock",
)
# Without CAP_NET_RAW and CAP_MKNOD (not in the default set): raw and packet
# sockets, device nodes (rootless: a user namespace never may make one).
NO_CAPABILITY = ("raw_socket", "raw6_socket", "raw_tcp_socket", "packet_socket", "packet_dgram",
                 "mknod_char", "mknod_block", "mknod_kmsg")
# Files of the kernel and of devices that must be out of reach (absent, masked or refused).
KERNEL_FILES = ("read:/proc/kmsg", "read:/dev/kmsg", "read:/dev/mem", "read:/dev/kmem", "read:/dev/port",
                "read:/proc/keys", "read:/proc/timer_list", "read:/proc/sched_debug",
                "write:/proc/sys/kernel/core_pattern", "write:/proc/sys/net/ipv4/ip_forward",
                "write:/proc/sys/vm/drop_caches", "write:/sys/kernel/uevent_helper", "write:/sys/power/state")


@pytest.fixture(scope="session")
def checker() -> str:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.fail("gcc is needed to build the test checker (apt-get install gcc libc6-dev)")
    d = tempfile.mkdtemp(prefix="nsbox-checker-")
    os.chmod(d, 0o755)  # the rootless user runs it too
    out = f"{d}/checker"
    r = subprocess.run([gcc, "-O1", "-static", "-o", out, str(HERE / "checker.c")], capture_output=True, text=True)
    if r.returncode != 0:  # no static libc: the embedded root has the host's /lib anyway
        subprocess.run([gcc, "-O1", "-o", out, str(HERE / "checker.c")], check=True)
    os.chmod(out, 0o755)
    yield out
    shutil.rmtree(d, ignore_errors=True)


def check(runner, checker: str, *tests: str, opts: tuple[str, ...] = (), code: int = 0) -> dict[str, str]:
    r = runner.run("run", "-v", f"{checker}:/checker:ro", *opts, "--", "/checker", *tests)
    assert r.returncode == code, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


_battery: dict[str, dict[str, str]] = {}


@pytest.fixture
def battery(runner, checker) -> dict[str, str]:
    """Every attempt of the checker, from one default container (per caller kind)."""
    key = "rootless" if runner.rootless else "root"
    if key not in _battery:
        hostname = socket.gethostname()
        with open("/proc/sys/net/ipv4/ping_group_range") as f:
            ping_range = f.read()
        _battery[key] = check(runner, checker, "hostfds", "all", *KERNEL_FILES)
        assert socket.gethostname() == hostname
        with open("/proc/sys/net/ipv4/ping_group_range") as f:
            assert f.read() == ping_range  # the container's own setting, not the host's
    return _battery[key]


@pytest.mark.parametrize("attempt", SECCOMP_EPERM)
def test_blocked_calls_fail_with_eperm(battery, attempt):
    assert battery[attempt] == "EPERM"


@pytest.mark.parametrize("attempt", NO_CAPABILITY)
def test_no_raw_sockets_and_no_device_nodes(battery, attempt):
    assert battery[attempt] == "EPERM"


def test_clone3_says_enosys_so_libc_falls_back_to_clone(battery):
    assert battery["clone3"] == "ENOSYS"


def test_no_ptrace_of_pid1_without_privileges(battery):
    # A process that gave up its capabilities cannot attach to the more privileged
    # PID 1 (the profile allows ptrace itself on kernels >= 4.8, as Docker's does).
    assert battery["ptrace_pid1"] == "EPERM"


def test_ptrace_of_own_child_stays_allowed(battery):
    assert battery["ptrace_child"] == "ok"


def test_ping_socket_without_net_raw(battery):
    assert battery["ping_socket"] == "ok"  # net.ipv4.ping_group_range covers the container's groups


def test_default_process_state(battery):
    assert battery["nnp"] == "1"
    assert battery["seccomp"] == "2"  # SECCOMP_MODE_FILTER
    assert battery["capeff"] == DEFAULT_CAPEFF
    assert battery["umask"] == "0022"


def test_no_host_process_namespace_or_descriptor_is_visible(battery):
    assert int(battery["procs"]) <= 3 and int(battery["maxpid"]) <= 3  # checker, its `ls`, /proc/self
    assert battery["foreign_ns"] == "0"
    assert battery["hostfds"] == "0"  # neither in the command nor in PID 1 (the same process here)


def test_kernel_files_are_masked_or_read_only(battery):
    assert battery["kcore"] in ("read0", "ENOENT")  # /dev/null over it (absent on some kernels)
    assert battery["read:/proc/keys"] == "read0"
    assert battery["read:/proc/timer_list"] == "read0"
    assert battery["read:/proc/sched_debug"] in ("read0", "ENOENT")
    for w in ("sysctl", "core_pattern", "write:/proc/sys/kernel/core_pattern", "write:/proc/sys/vm/drop_caches",
              "write:/proc/sys/net/ipv4/ip_forward"):
        assert battery[w] in ("EROFS", "EACCES"), w
    assert battery["sysrq"] in ("EROFS", "ENOENT")  # read-only (absent on some kernels)
    assert battery["sysfs"] == "EROFS"
    for w in ("write:/sys/kernel/uevent_helper", "write:/sys/power/state"):
        assert battery[w] in ("EROFS", "ENOENT", "EACCES"), w


def test_kernel_log_and_raw_devices_are_out_of_reach(battery):
    assert battery["syslog"] == "EPERM"
    assert battery["read:/proc/kmsg"] in ("EPERM", "EACCES")
    for dev in ("kmsg", "mem", "kmem", "port"):
        assert battery[f"read:/dev/{dev}"] == "ENOENT", dev  # not in the container's /dev


def test_kernel_addresses_are_hidden(battery):
    assert battery["kallsyms"] == "zeros"
    assert battery["modules_addr"] in ("zeros", "ENOENT", "empty")  # absent without loadable modules


def test_cgroupfs_is_read_only(battery):
    assert not battery["cgroupfs"].startswith("ok"), battery["cgroupfs"]


def test_default_capabilities(battery, runner):
    assert battery["bind80"] == "ok"
    if not runner.rootless:
        assert battery["chown"] == "ok"


@pytest.mark.parametrize("cap, attempts", [
    ("NET_RAW", ("raw_socket", "raw6_socket", "packet_socket", "packet_dgram")),
    ("MKNOD", ("mknod_char", "mknod_block")),
])
def test_cap_add_gives_one_back(runner, checker, cap, attempts):
    got = check(runner, checker, "status", *attempts, opts=("--cap-add", cap))
    bit = {"NET_RAW": 13, "MKNOD": 27}[cap]
    assert int(got["capeff"], 16) == int(DEFAULT_CAPEFF, 16) | 1 << bit
    if cap == "MKNOD" and runner.rootless:
        # mknod(2) of a device needs CAP_MKNOD in the initial user namespace
        assert {got[a] for a in attempts} == {"EPERM"}
    else:
        assert {got[a] for a in attempts} == {"ok"}, got


def test_cap_add_audit_write(runner, checker):
    got = check(runner, checker, "status", opts=("--cap-add", "AUDIT_WRITE"))
    assert int(got["capeff"], 16) == int(DEFAULT_CAPEFF, 16) | 1 << 29


def test_ping_in_a_default_container(runner):
    r = runner.run("run", "--", "sh", "-c", "cat /proc/sys/net/ipv4/ping_group_range; ping -c 1 -W 5 127.0.0.1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[0].split() == (["0", "0"] if runner.rootless else ["0", "2147483647"])
    assert "1 received" in r.stdout
    # with more than one id mapped: the whole mapped range
    maps = ("--userns", "auto") if runner.rootless else ("--uidmap", "0:500000:70000", "--gidmap", "0:500000:70000")
    r = runner.run("run", *maps, "--", "sh", "-c", "cat /proc/sys/net/ipv4/ping_group_range; ping -c1 -W5 127.0.0.1",
                   check=True)
    assert r.stdout.splitlines()[0].split() == ["0", "65536" if runner.rootless else "69999"]


def test_exec_and_inspect_show_the_default_set(runner, checker):
    with containers(runner) as made:
        made.append(unique("caps"))
        run_d(runner, "-v", f"{checker}:/checker:ro", "--", "sleep", "1000", name=made[0])
        r = runner.run("exec", made[0], "/checker", "status", "raw_socket", "ping_socket", check=True)
        got = dict(line.split("=", 1) for line in r.stdout.splitlines())
        assert (got["capeff"], got["raw_socket"], got["ping_socket"]) == (DEFAULT_CAPEFF, "EPERM", "ok")
        r = runner.run("inspect", made[0], check=True)
        import json

        caps = json.loads(r.stdout)["capabilities"]
        assert sorted(caps["effective"]) == sorted(DEFAULT_CAPS), caps
        r = runner.run("exec", made[0], "ping", "-c", "1", "-W", "5", "127.0.0.1")
        assert r.returncode == 0, r.stdout + r.stderr


def _host_sysctls() -> list[str]:
    out = []
    for key in ("net/ipv4/ip_unprivileged_port_start", "kernel/msgmax"):
        with open(f"/proc/sys/{key}") as f:
            out.append(f.read())
    return out


def test_sysctl_flag(runner):
    before = _host_sysctls()
    want = [str(int(before[0]) - 1), str(int(before[1]) - 1)]  # differ from the host's
    r = runner.run("run", "--sysctl", f"net.ipv4.ip_unprivileged_port_start={want[0]}", "--sysctl",
                   f"kernel.msgmax={want[1]}", "--", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start",
                   "/proc/sys/kernel/msgmax", check=True)
    assert r.stdout.split() == want
    assert _host_sysctls() == before  # the container's own namespaces only
    r = runner.run("run", "--sysctl", "kernel.core_pattern=|/tmp/x", "--", "true")
    assert r.returncode == 125
    assert r.stderr.startswith("nsbox: --sysctl `kernel.core_pattern`: not a parameter of a namespace")
    r = runner.run("run", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "--", "true")
    assert r.returncode == 125 and "shares the host's network namespace" in r.stderr
    r = runner.run("run", "--sysctl", "net.ipv4.no_such_thing=1", "--", "true")
    assert r.returncode == 125
    assert r.stderr.strip() == ("nsbox: sysctl `net.ipv4.no_such_thing=1`: open "
                                "`/proc/sys/net/ipv4/no_such_thing`: No such file or directory")


def test_cap_drop_all(runner, checker):
    got = check(runner, checker, "status", "chown", "bind80", opts=("--cap-drop", "ALL"))
    assert got["capeff"] == "0000000000000000"
    assert got["chown"] in ("EPERM", "EINVAL") and got["bind80"] == "EACCES"


def test_cap_add_sys_admin_opens_mount(runner, checker):
    got = check(runner, checker, "mount", "unshare_net", "keyctl", opts=("--cap-add", "SYS_ADMIN"))
    assert got == {"mount": "ok", "unshare_net": "ok", "keyctl": "EPERM"}


def test_cap_add_sys_time(runner, checker):
    # (as root the call would then set the host's clock: only the rootless run makes it)
    tests = ("status", "settime") if runner.rootless else ("status",)
    got = check(runner, checker, *tests, opts=("--cap-add", "SYS_TIME"))
    assert int(got["capeff"], 16) >> 25 & 1  # CAP_SYS_TIME
    if runner.rootless:
        assert got["settime"] == "EPERM"  # the clock belongs to the initial user namespace


def test_unknown_capability(runner):
    r = runner.run("run", "--cap-add", "FLY", "--", "true")
    assert r.returncode == 125
    assert r.stderr.startswith("nsbox: --cap-add `FLY`: unknown capability")


def test_privileged(runner, checker):
    got = check(runner, checker, "status", "mount", "keyctl", "read:/proc/keys", "sysfs",
                opts=("--privileged",))
    assert got["seccomp"] == "0"
    assert got["mount"] == "ok" and got["keyctl"] == "ok"
    assert got["read:/proc/keys"] != "read0"
    if not runner.rootless:
        assert got["sysfs"] == "ok"
        with open("/proc/self/status") as f:
            own = [line.split()[1] for line in f if line.startswith("CapBnd:")][0]
        assert got["capeff"] == own  # everything nsbox has
        r = runner.run("run", "--privileged", "--", "sh", "-c", "test -c /dev/kmsg || test -c /dev/tty0")
        assert r.returncode == 0, r.stderr  # host devices are there
    else:
        assert got["capeff"] == "000001ffffffffff"  # all of them, inside its user namespace


def test_no_new_privileges_false(runner, checker):
    got = check(runner, checker, "status", "keyctl", opts=("--security-opt", "no-new-privileges=false"))
    assert got["nnp"] == "0" and got["seccomp"] == "2" and got["keyctl"] == "EPERM"


def test_seccomp_unconfined(runner, checker):
    got = check(runner, checker, "status", "personality", opts=("--security-opt", "seccomp=unconfined"))
    assert got["seccomp"] == "0" and got["personality"] == "ok" and got["nnp"] == "1"


@pytest.fixture(scope="session")
def profiles(checker) -> Path:
    d = Path(checker).parent
    (d / "docker.json").write_text(
        '{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64", '
        '"subArchitectures": ["SCMP_ARCH_X86"]}], "syscalls": ['
        '{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "comment": "c"},'
        '{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}')
    (d / "oci.json").write_text(
        '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": ['
        '{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},'
        '{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": ['
        '{"index": 0, "value": 4194304, "op": "SCMP_CMP_EQ"}]}]}')
    for f in d.iterdir():
        f.chmod(0o755 if f.name == "checker" else 0o644)
    return d


def test_seccomp_docker_profile(runner, checker, profiles):
    opts = ("--security-opt", f"seccomp={profiles}/docker.json")
    r = runner.run("run", *opts, "--", "mkdir", "/tmp/x")
    assert r.returncode != 0 and "Permission denied" in r.stderr
    assert check(runner, checker, "keyctl", "bpf", opts=opts) == {"keyctl": "EPERM", "bpf": "EINVAL"}
    got = check(runner, checker, "keyctl", opts=opts + ("--cap-add", "SYS_ADMIN"))
    assert got == {"keyctl": "ok"}  # the rule's `excludes` drops it for CAP_SYS_ADMIN


def test_seccomp_oci_profile(runner, checker, profiles):
    got = check(runner, checker, "keyctl", "personality", opts=("--security-opt", f"seccomp={profiles}/oci.json"))
    assert got == {"keyctl": "ENOSYS", "personality": "ok"}


def test_bad_seccomp_profile(runner, profiles):
    bad = profiles / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_NOPE"}')
    bad.chmod(0o644)
    r = runner.run("run", "--security-opt", f"seccomp={bad}", "--", "true")
    assert r.returncode == 125
    assert r.stderr.startswith(f"nsbox: --security-opt seccomp=`{bad}`: profile.defaultAction: unknown action")


def test_seccomp_filter_is_cached(runner, checker):
    check(runner, checker, "status")
    cache = Path(runner.root, "seccomp")
    if runner.rootless:
        r = subprocess.run(["ls", str(cache)], capture_output=True, text=True)
        assert any(n.endswith(".bpf") for n in r.stdout.split())
    else:
        before = sorted(cache.iterdir())
        assert before and all(p.suffix == ".bpf" for p in before)
        check(runner, checker, "status")
        assert sorted(cache.iterdir()) == before


def test_ulimit(runner):
    r = runner.run("run", "--ulimit", "nofile=1024:2048", "--", "sh", "-c", "ulimit -Sn; ulimit -Hn", check=True)
    assert r.stdout.split() == ["1024", "2048"]


def test_ulimit_above_the_hard_limit(runner):
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    r = runner.run("run", "--ulimit", f"nofile=1024:{hard + 10000}", "--", "true")
    with open("/proc/self/status") as f:
        sys_resource = any(int(line.split()[1], 16) >> 24 & 1 for line in f if line.startswith("CapEff:"))
    if sys_resource and not runner.rootless:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 125
        assert "--ulimit `nofile=1024:" in r.stderr and "CAP_SYS_RESOURCE" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_oom_score_adj(runner):
    r = runner.run("run", "--oom-score-adj", "500", "--", "cat", "/proc/self/oom_score_adj", check=True)
    assert r.stdout.strip() == "500"
    r = runner.run("run", "--oom-score-adj", "2000", "--", "true")
    assert r.returncode == 125 and "between -1000 and 1000" in r.stderr


def test_group_add(root_runner):
    r = root_runner.run("run", "--group-add", "10", "--group-add", "audio", "--", "id", "-G", check=True)
    with open("/etc/group") as f:
        audio = [line.split(":")[2] for line in f if line.startswith("audio:")]
    assert set(r.stdout.split()) == {"0", "10", *audio}


@pytest.mark.rootless
def test_group_add_rootless_needs_a_mapping(rootless_runner):
    r = rootless_runner.run("run", "--group-add", "10", "--", "true")
    assert r.returncode == 125 and "gid 10 is not mapped" in r.stderr
    r = rootless_runner.run("run", "--userns", "auto", "--group-add", "10", "--", "id", "-G", check=True)
    assert "10" in r.stdout.split()


def test_non_root_user_and_ambient_caps(root_runner, checker):
    got = check(root_runner, checker, "status", "bind80", opts=("-u", "1000"))
    assert got["capeff"] == "0000000000000000" and got["bind80"] == "EACCES"
    got = check(root_runner, checker, "status", "bind80", opts=("-u", "1000", "--cap-add", "NET_BIND_SERVICE"))
    assert got["capeff"] == "0000000000000400" and got["bind80"] == "ok"  # ambient: survived execve


def test_standard_devices_are_usable_by_any_user(runner):
    maps = ("--userns", "auto") if runner.rootless else ()
    r = runner.run("run", *maps, "-u", "1000", "--", "sh", "-c",
                   "echo x > /dev/null && head -c 3 /dev/zero | wc -c && stat -c %a /dev/null /dev/zero /dev/tty")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["3", "666", "666", "666"]


def test_landlock(runner):
    script = ("cat /etc/hostname >/dev/null && echo read-etc; echo hi >/tmp/f && echo write-tmp; "
              "ls /root >/dev/null 2>&1 || echo no-root; touch /home/x 2>/dev/null || echo no-home")
    r = runner.run("run", "--landlock-ro", "/usr", "--landlock-ro", "/etc", "--landlock-rw", "/tmp",
                   "--", "sh", "-c", script, check=True)
    assert r.stdout.split() == ["read-etc", "write-tmp", "no-root", "no-home"]
    r = runner.run("run", "--landlock-ro", "/etc", "--", "/usr/bin/true")
    assert r.returncode == 126  # not allowed to execute anything beneath /usr


def test_landlock_bad_path(runner):
    r = runner.run("run", "--landlock-rw", "/nonexistent", "--", "true")
    assert r.returncode == 125
    assert r.stderr.strip() == "nsbox: landlock rule for `/nonexistent`: No such file or directory"


def test_python_api_gets_the_same_defaults(runner):
    from .test_api import api

    out = api(runner, """
        r = nsbox.run(["sh", "-c", "grep CapEff /proc/self/status; ping -c 1 -W 5 127.0.0.1 >/dev/null && echo pingok"],
                      text=True)
        out["default"] = [r.returncode, r.stdout]
        r = nsbox.run(["grep", "CapEff", "/proc/self/status"], cap_add=["NET_RAW"], text=True)
        out["net_raw"] = r.stdout
        r = nsbox.run(["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"],
                      sysctl={"net.ipv4.ip_unprivileged_port_start": "99"}, text=True)
        out["sysctl"] = r.stdout
        try:
            nsbox.run(["true"], sysctl={"kernel.core_pattern": "|/tmp/x"})
        except nsbox.ConfigError as e:
            out["refused"] = str(e)
    """)
    assert out["default"] == [0, f"CapEff:\t{DEFAULT_CAPEFF}\npingok\n"]
    assert out["net_raw"] == f"CapEff:\t{int(DEFAULT_CAPEFF, 16) | 1 << 13:016x}\n"
    assert out["sysctl"] == "99\n"
    assert out["refused"].startswith("sysctl `kernel.core_pattern`: not a parameter of a namespace")
