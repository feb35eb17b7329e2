"""Shared fixtures: the installed nsbox, a rootless user, per-session state roots.

Tests marked ``root`` run real containers as root; ``rootless`` ones run them as
an unprivileged user this suite creates (with /etc/subuid ranges).  Run as
root, the session FAILS if any of them was skipped: the privileged parts never
silently go missing on a machine that has them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IS_ROOT = os.geteuid() == 0
TEST_USER = "nsboxtest"
SESSION = uuid.uuid4().hex[:8]
CGROUP_PARENT = f"/nsbox-test-{SESSION}"  # this session's containers' cgroups, apart from anyone else's
_skipped_privileged: list[str] = []


def pytest_configure(config):
    # A private base temp dir per session: pytest prunes /tmp/pytest-of-USER/pytest-N
    # of other sessions, which breaks parallel runs on one machine.
    if not config.option.basetemp:
        config.option.basetemp = f"/tmp/nsbox-pytest-{SESSION}"
        config.add_cleanup(lambda: shutil.rmtree(config.option.basetemp, ignore_errors=True))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not IS_ROOT and (item.get_closest_marker("root") or item.get_closest_marker("rootless")):
            item.add_marker(pytest.mark.skip(reason="needs root (run the suite as root for integration tests)"))


PROGRAMS = REPO / "tests" / "programs.txt"  # program -> Debian package(s), shared with scripts/test
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def required_programs(table: Path = PROGRAMS, unit_only: bool = False) -> list[tuple[str, str]]:
    """(program, Debian packages) of every external program the suite runs (or,
    ``unit_only``, of those the unit tests run)."""
    out = []
    for line in table.read_text().splitlines():
        parts = line.split()
        if parts and not parts[0].startswith("#") and (not unit_only or "unit" in parts[2:]):
            out.append((parts[0], parts[1].replace(",", " ") if len(parts) > 1 else "?"))
    return out


def missing_programs(table: Path = PROGRAMS, path: str = SEARCH_PATH, unit_only: bool = False) -> list[str]:
    return [f"missing program `{prog}` (Debian package {pkgs}): run ./scripts/test to install it"
            for prog, pkgs in required_programs(table, unit_only) if shutil.which(prog, path=path) is None]


def pytest_collection_finish(session):
    """Before any test runs: every program of tests/programs.txt the selected tests
    need (all of them when the integration suites run, as root); say which is
    missing now rather than in the middle of a test."""
    if not session.items:
        return
    integration = IS_ROOT and any("integration" in item.path.parts for item in session.items)
    missing = missing_programs(unit_only=not integration)
    if missing:
        pytest.exit("\n".join(missing), returncode=1)


def pytest_runtest_logreport(report):
    if report.skipped and IS_ROOT:
        kw = report.keywords
        if "root" in kw or "rootless" in kw:
            _skipped_privileged.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if IS_ROOT:
        _remove_session_cgroups()
    if IS_ROOT and _skipped_privileged:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        msg = ("FAILED: running as root, yet these privileged tests were skipped:\n  "
               + "\n  ".join(_skipped_privileged))
        if tr:
            tr.write_line(msg, red=True, bold=True)
        session.exitstatus = 1


def _remove_session_cgroups() -> None:
    """This session's cgroup parents (/nsbox-test-SESSION and the tests' own
    variants of it), once empty: a test run leaves nothing behind either."""
    for base in Path("/sys/fs/cgroup").glob(f"*/nsbox-test-{SESSION}*"):
        for d in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            try:
                d.rmdir()
            except OSError:
                pass
        try:
            base.rmdir()
        except OSError:
            pass


def nsbox_path() -> str:
    cand = Path(sys.executable).parent / "nsbox"
    if cand.exists():
        return str(cand)
    found = shutil.which("nsbox")
    if not found:
        pytest.fail("the nsbox command is not installed next to the test interpreter (pip install .)")
    return found


@pytest.fixture(scope="session")
def nsbox_bin() -> str:
    return nsbox_path()


@pytest.fixture(scope="session")
def state_root(tmp_path_factory) -> str:
    """A private NSBOX_ROOT so parallel sessions never see each other's containers."""
    root = f"/run/nsbox-test-{SESSION}" if IS_ROOT else str(tmp_path_factory.mktemp("nsbox-root"))
    yield root
    collect_state(root)
    shutil.rmtree(root, ignore_errors=True)


def collect_state(root: str) -> None:
    """Release what containers whose nsbox was SIGKILLed still hold outside the state root
    (/run/netns registrations, cgroups) before the root is removed: nothing else would."""
    try:
        from nsbox.runtime.gc import collect
        from nsbox.runtime.state import Store

        collect(Store(root))
    except Exception:  # noqa: BLE001 - teardown must not mask the session's result
        pass


def _ensure_user() -> pwd.struct_passwd:
    try:
        pw = pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", TEST_USER], check=True)
        pw = pwd.getpwnam(TEST_USER)
    for path in ("/etc/subuid", "/etc/subgid"):
        text = Path(path).read_text() if Path(path).exists() else ""
        if not any(line.startswith(f"{TEST_USER}:") for line in text.splitlines()):
            with open(path, "a") as f:
                f.write(f"{TEST_USER}:200000:65536\n")
    return pw


def _reachable_by(user: str, path: str) -> bool:
    r = subprocess.run(["su", user, "-s", "/bin/sh", "-c", f"test -x '{path}' && '{path}' --version"],
                       capture_output=True)
    return r.returncode == 0


@pytest.fixture(scope="session")
def rootless_user(nsbox_bin):
    """(passwd entry, nsbox path it can run).  The install must be reachable by the
    user: if the repo's venv is not (e.g. under /root), a copy is installed in /opt."""
    if not IS_ROOT:
        pytest.skip("creating the unprivileged test user needs root")
    pw = _ensure_user()
    path = nsbox_bin
    if not _reachable_by(TEST_USER, path):
        venv = "/opt/nsbox-test-venv"
        if not Path(venv, "bin", "nsbox").exists():
            subprocess.run(["/usr/bin/python3", "-m", "venv", venv], check=True)
        subprocess.run([f"{venv}/bin/pip", "install", "-q", "--disable-pip-version-check", str(REPO)],
                       check=True)
        subprocess.run(["chmod", "-R", "a+rX", venv], check=True)
        path = f"{venv}/bin/nsbox"
    return pw, path


class Runner:
    """Runs nsbox as root or as the test user, with a private state root."""

    def __init__(self, nsbox: str, root: str, user: pwd.struct_passwd | None = None) -> None:
        self.nsbox = nsbox
        self.root = root
        self.user = user

    @property
    def rootless(self) -> bool:
        return self.user is not None

    def argv(self, *args: str) -> list[str]:
        if self.user is None:
            return [self.nsbox, *args]
        env = f"NSBOX_ROOT={self.root}"
        return ["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}", "--init-groups",
                "--reset-env", "env", env, f"HOME={self.user.pw_dir}", f"USER={self.user.pw_name}",
                f"LOGNAME={self.user.pw_name}", "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                self.nsbox, *args]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NSBOX_ROOT"] = self.root
        env["NSBOX_CGROUP_PARENT"] = CGROUP_PARENT
        return env

    def run(self, *args: str, input: bytes | str | None = None, timeout: float = 60,
            check: bool = False, **kw) -> subprocess.CompletedProcess:
        text = not isinstance(input, bytes)
        r = subprocess.run(self.argv(*args), input=input, capture_output=True, text=text,
                           timeout=timeout, env=self.env(), cwd="/", **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"nsbox {' '.join(args)} exited {r.returncode}\nstdout: {r.stdout}\n"
                                 f"stderr: {r.stderr}")
        return r

    def popen(self, *args: str, **kw) -> subprocess.Popen:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(*args), env=self.env(), cwd="/", **kw)


@pytest.fixture(scope="session")
def root_runner(nsbox_bin, state_root):
    if not IS_ROOT:
        pytest.skip("needs root")
    return Runner(nsbox_bin, state_root)


@pytest.fixture(scope="session")
def rootless_runner(rootless_user, tmp_path_factory):
    pw, path = rootless_user
    root = f"/tmp/nsbox-test-{SESSION}-{pw.pw_uid}"
    yield Runner(path, root, pw)
    collect_state(root)
    subprocess.run(["rm", "-rf", root])


@pytest.fixture(params=["root", "rootless"])
def runner(request):
    """Both kinds of caller: the test runs once as root and once rootless."""
    if request.param == "root":
        request.applymarker(pytest.mark.root)
        return request.getfixturevalue("root_runner")
    request.applymarker(pytest.mark.rootless)
    return request.getfixturevalue("rootless_runner")


@pytest.fixture
def shared_tmp():
    """A temporary directory both root and the rootless test user can use (0777)."""
    import tempfile

    d = tempfile.mkdtemp(prefix="nsbox-test-")
    os.chmod(d, 0o777)
    yield d
    subprocess.run(["rm", "-rf", d])


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> str:
    """A minimal root filesystem: static busybox and its applet links."""
    bb = shutil.which("busybox")
    if bb is None:
        pytest.fail("busybox is not installed (apt-get install busybox-static)")
    import tempfile

    # not under pytest's /tmp/pytest-of-USER (0700, and pruned by other sessions):
    # the rootless user must reach it for the whole session
    root = Path(tempfile.mkdtemp(prefix="nsbox-busybox-"))
    os.chmod(root, 0o755)
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "usr/bin", "home"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(bb, root / "bin" / "busybox")
    applets = subprocess.run([bb, "--list"], capture_output=True, text=True).stdout.split()
    for a in applets:
        link = root / "bin" / a
        if not link.exists():
            link.symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"
                                         "user:x:1000:1000::/home/user:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nwheel:x:10:user\nuser:x:1000:\nnogroup:x:65534:\n")
    os.chmod(root / "tmp", 0o1777)
    # world-readable so the rootless user can use it
    subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)
    yield str(root)
    shutil.rmtree(root, ignore_errors=True)
