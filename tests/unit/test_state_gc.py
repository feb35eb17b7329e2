"""State store, names, locks and garbage collection, in a temporary root (no privileges)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nsbox.errors import Conflict, ContainerNotFound
from nsbox.runtime import gc, resources
from nsbox.runtime import state as S


def test_new_lookup_names(tmp_path):
    st = S.Store(str(tmp_path / "root"))
    c = st.new("a" * 64, "web")
    c.init_state(name="web")
    assert oct(os.stat(st.root).st_mode & 0o777) == "0o700"
    assert st.lookup("web").id == c.id
    assert st.lookup("aaaa").id == c.id  # unique prefix
    with pytest.raises(Conflict, match="container name `web`: already in use"):
        st.new("b" * 64, "web")
    assert not os.path.exists(f"{st.containers_dir}/{'b' * 64}")
    with pytest.raises(ContainerNotFound, match="no such container: `nope`"):
        st.lookup("nope")
    with pytest.raises(ContainerNotFound):
        st.lookup("../etc")


def test_state_written_atomically(tmp_path):
    st = S.Store(str(tmp_path))
    c = st.new("c" * 64)
    c.init_state()
    c.write(status=S.RUNNING, pid=42)
    again = st.lookup("c" * 64)
    assert again.state["status"] == "running" and again.state["pid"] == 42
    assert again.state["ociVersion"] == "1.3.0" and again.state["bundle"] == c.path


def test_owner_lock(tmp_path):
    st = S.Store(str(tmp_path))
    c = st.new("d" * 64)
    assert c.owner_alive()  # we hold it
    c.release_ownership()
    assert not c.owner_alive()


def _dead_owner_container(st: S.Store, cid: str, **state) -> S.Container:
    """A container whose owner died: created in a child process that exits."""
    code = (f"import sys; sys.path.insert(0, {os.getcwd()!r});"
            f"from nsbox.runtime import state as S; st = S.Store({st.root!r}); c = st.new({cid!r}); "
            f"c.init_state(**{state!r})")
    subprocess.run([sys.executable, "-c", code], check=True)
    return st.lookup(cid)


def test_gc_removes_dead_foreground_containers_and_releases(tmp_path, monkeypatch):
    released = []
    resources.register("test-kind", "tests.unit.test_state_gc:_release")
    monkeypatch.setattr(sys.modules[__name__], "_release", lambda rec: released.append(rec["x"]))
    st = S.Store(str(tmp_path))
    c = _dead_owner_container(st, "e" * 64, autoRemove=True, resources=[{"kind": "test-kind", "x": 1}])
    assert os.path.isdir(c.path)
    done = gc.collect(st)
    assert done == ["e" * 64] and not os.path.exists(c.path) and released == [1]


def test_gc_keeps_detached_as_stopped(tmp_path):
    st = S.Store(str(tmp_path))
    _dead_owner_container(st, "f" * 64, autoRemove=False, detached=True, status="running")
    gc.collect(st)
    c = st.lookup("f" * 64)
    assert c.state["status"] == "stopped" and c.state["exitCode"] == 137


def test_gc_leaves_live_containers(tmp_path):
    st = S.Store(str(tmp_path))
    c = st.new("g" * 64)
    c.init_state(autoRemove=True)
    assert gc.collect(st) == []
    assert os.path.isdir(c.path)


def test_gc_removes_half_created_dirs(tmp_path):
    st = S.Store(str(tmp_path))
    st.ensure()
    os.mkdir(f"{st.containers_dir}/.new-zzz")  # an older name, without its creator
    os.utime(f"{st.containers_dir}/.new-zzz", (0, 0))
    gc.collect(st)
    assert os.listdir(st.containers_dir) == []


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_gc_keeps_a_pending_dir_whose_creator_lives_before_it_locks(tmp_path):
    """The window between Store.new's mkdir and its flock: the name says who is
    making it, and that process is alive."""
    st = S.Store(str(tmp_path))
    st.ensure()
    name = S.pending_name("a" * 64)
    os.mkdir(f"{st.containers_dir}/{name}")  # no owner.lock yet
    os.symlink("a" * 64, f"{st.names_dir}/web")
    assert gc.collect(st) == []
    assert os.listdir(st.containers_dir) == [name]
    assert os.listdir(st.names_dir) == ["web"]


def test_gc_removes_a_dead_creators_pending_dir_at_once(tmp_path):
    st = S.Store(str(tmp_path))
    st.ensure()
    dead = S.pending_name("b" * 64, _dead_pid())
    reused = f"{S.PENDING_PREFIX}{os.getpid()}.1-{'c' * 64}"  # our pid, another start time
    for n in (dead, reused):
        os.mkdir(f"{st.containers_dir}/{n}")
    os.symlink("b" * 64, f"{st.names_dir}/db")
    assert sorted(gc.collect(st)) == sorted([dead, reused])
    assert os.listdir(st.containers_dir) == [] and os.listdir(st.names_dir) == []


def test_pending_names_round_trip():
    assert S.pending_owner(S.pending_name("x1", os.getpid()))[::2] == (os.getpid(), "x1")
    assert S.pending_owner(".new-abc") is None and S.pending_owner("abc") is None


def _release(rec):  # replaced in the test
    raise AssertionError


def test_rmtree_does_not_follow_symlinks(tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "f").write_text("x")
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "link").symlink_to(keep)
    S.rmtree(str(d))
    assert not d.exists() and (keep / "f").exists()


def test_remove_dir_goes_out_of_sight_first(tmp_path, monkeypatch):
    """A remover killed halfway (after the rename) leaves no nameless container:
    the next collection finishes the job, name included."""
    st = S.Store(str(tmp_path))
    c = st.new("d" * 64, "web")
    c.init_state(name="web", status="stopped")
    c.release_ownership()
    dead = _dead_pid()
    monkeypatch.setattr(S, "remove_tree", lambda path: (_ for _ in ()).throw(SystemExit("killed")))
    monkeypatch.setattr(os, "getpid", lambda: dead)
    with pytest.raises(SystemExit):
        c.remove_dir()
    monkeypatch.undo()
    left = os.listdir(st.containers_dir)
    assert len(left) == 1 and left[0].startswith(S.REMOVING_PREFIX)
    with pytest.raises(ContainerNotFound):
        st.lookup("web")
    gc.collect(st)
    assert os.listdir(st.containers_dir) == [] and os.listdir(st.names_dir) == []


def test_lookup_never_finds_pending_or_removed_dirs(tmp_path):
    st = S.Store(str(tmp_path))
    st.ensure()
    os.mkdir(f"{st.containers_dir}/{S.pending_name('e' * 64)}")
    for ref in (".new", ".", S.pending_name("e" * 64)):
        with pytest.raises(ContainerNotFound):
            st.lookup(ref)


def test_gc_removes_half_written_cache_files(tmp_path):
    st = S.Store(str(tmp_path))
    st.ensure()
    os.mkdir(f"{st.root}/seccomp")
    dead = f"{st.root}/seccomp/abc.bpf.999999999.tmp"
    mine = f"{st.root}/seccomp/abc.bpf.{os.getpid()}.tmp"
    done = f"{st.root}/seccomp/abc.bpf"
    for p in (dead, mine, done):
        open(p, "w").close()
    gc.collect(st)
    assert not os.path.exists(dead) and os.path.exists(mine) and os.path.exists(done)


@pytest.mark.parametrize("squat", ["other owner", "world writable", "symlink"])
def test_a_squatted_tmp_state_root_is_refused(tmp_path, monkeypatch, squat):
    # rootless without XDG_RUNTIME_DIR the state roots are /tmp/nsbox-UID and
    # /tmp/nsbox-runc-UID: another user may make them first (with containers/ and
    # names/ inside) and so plant the state.json whose resources we would release
    from nsbox.errors import NsboxError
    from nsbox.runc import store as runc_store

    real = os.geteuid()
    uid = real + 4000000 if squat == "other owner" or real == 0 else real  # (root's is /run/nsbox)
    monkeypatch.setattr(S, "TMP_DIR", str(tmp_path))
    monkeypatch.setattr(os, "geteuid", lambda: uid)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(runc_store, "rootless", lambda: True)
    for prefix, default_root in (("nsbox", S.default_root), ("nsbox-runc", runc_store.default_root)):
        root = tmp_path / f"{prefix}-{uid}"
        assert default_root() == str(root)  # none yet: ours to make
        if squat == "symlink":
            (tmp_path / "elsewhere").mkdir(exist_ok=True)
            root.symlink_to(tmp_path / "elsewhere")
        else:
            (root / "containers").mkdir(parents=True)
            (root / "names").mkdir()
            os.chmod(root, 0o777 if squat == "world writable" else 0o700)
        if squat != "other owner" and real == 0:
            os.lchown(root, uid, -1)  # ours, as the faked uid sees it
        with pytest.raises(NsboxError, match=rf"state directory `{root}`: .*(set XDG_RUNTIME_DIR or --root)"):
            default_root()
