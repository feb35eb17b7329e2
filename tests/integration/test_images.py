"""Images end to end: built with umoci from busybox, moved with skopeo, served by a real
docker-registry on loopback; loaded, pulled, run (rootful and rootless), removed."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

import pytest

from tests.imagebuild import Layout, busybox_layer, tar_bytes
from tests.integration.registryhelpers import DockerRegistry, Front


def sh(*args: str, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(list(args), capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def need(*tools: str) -> None:
    for t in tools:
        if shutil.which(t) is None:
            pytest.fail(f"{t} is not installed (scripts/test installs it)")


def umoci_config(layout: str, tag: str, *args: str) -> None:
    sh("umoci", "config", "--image", f"{layout}:{tag}", *args)


@pytest.fixture(scope="module")
def images(busybox_rootfs):
    """OCI layout `bb` (one layer, config: Cmd/Env/WorkingDir) and `multi` (three layers: files, then
    whiteouts of a file and of a directory's content), as oci-archive and docker-archive files too."""
    need("umoci", "skopeo")
    work = tempfile.mkdtemp(prefix="nsbox-images-")
    os.chmod(work, 0o755)
    lay = f"{work}/oci"
    sh("umoci", "init", "--layout", lay)
    sh("umoci", "new", "--image", f"{lay}:bb")
    b = f"{work}/bundle"
    sh("umoci", "unpack", "--rootless", "--image", f"{lay}:bb", b)
    shutil.rmtree(f"{b}/rootfs")
    shutil.copytree(busybox_rootfs, f"{b}/rootfs", symlinks=True)
    sh("umoci", "repack", "--refresh-bundle", "--image", f"{lay}:bb", b)
    umoci_config(lay, "bb", "--config.cmd", "/bin/sh", "--config.cmd", "-c", "--config.cmd",
                 "echo hello from $GREETING in $(pwd)", "--config.env", "GREETING=the-image",
                 "--config.workingdir", "/tmp")
    sh("umoci", "tag", "--image", f"{lay}:bb", "multi")
    os.makedirs(f"{b}/rootfs/data/dir")
    for path, text in (("etc/motd", "motd"), ("data/dir/f1", "1"), ("data/keep", "k")):
        with open(f"{b}/rootfs/{path}", "w") as f:
            f.write(text)
    sh("umoci", "repack", "--refresh-bundle", "--image", f"{lay}:multi", b)
    os.unlink(f"{b}/rootfs/etc/motd")
    shutil.rmtree(f"{b}/rootfs/data/dir")
    os.makedirs(f"{b}/rootfs/data/dir")
    with open(f"{b}/rootfs/data/dir/new", "w") as f:
        f.write("new")
    sh("umoci", "repack", "--refresh-bundle", "--image", f"{lay}:multi", b)
    umoci_config(lay, "multi", "--config.user", "1000:1000", "--config.entrypoint", "/bin/sh",
                 "--config.cmd", "-c", "--config.cmd", "id -u")
    shutil.rmtree(b)
    for fmt, tag in (("oci-archive", "bb"), ("docker-archive", "bb"), ("oci-archive", "multi")):
        name = "example.test/bb:1" if tag == "bb" else "example.test/multi:1"
        sh("skopeo", "copy", "-q", f"oci:{lay}:{tag}", f"{fmt}:{work}/{tag}-{fmt}.tar:{name}")
    subprocess.run(["chmod", "-R", "a+rX", work], check=True)
    yield work
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def store(shared_tmp):
    return f"{shared_tmp}/storage"


def nb(runner, store, *args, **kw):
    return runner.run("--storage", store, *args, **kw)


@pytest.fixture(scope="module")
def registry(images):
    """A docker-registry (anonymous) holding bb, multi and a manifest list."""
    tmp = tempfile.mkdtemp(prefix="nsbox-registry-")
    reg = DockerRegistry(tmp)
    for tag in ("bb", "multi"):
        sh("skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{images}/oci:{tag}",
           f"docker://{reg.host}/test/{tag}:1")
    # a manifest list: this machine's image and a (fake) arm64 one
    ml = Layout(f"{tmp}/ml")
    amd = ml.image([tar_bytes([("which", "file", "amd64")])], add=False)
    arm = ml.image([tar_bytes([("which", "file", "arm64")])], platform=("linux", "arm64"), add=False)
    ml.index([amd, arm])
    ml.write()
    sh("skopeo", "copy", "-q", "--all", "--dest-tls-verify=false", f"oci:{ml.path}",
       f"docker://{reg.host}/test/multiarch:1")
    yield reg
    reg.stop()
    shutil.rmtree(tmp, ignore_errors=True)


# -- load and run -------------------------------------------------------------------------------

@pytest.mark.parametrize("archive", ["bb-oci-archive.tar", "bb-docker-archive.tar", "oci"])
def test_load_formats(runner, store, images, archive):
    r = nb(runner, store, "load", "-i", f"{images}/{archive}", check=True)
    if archive == "oci":  # a layout directory: its index names tags only (no repository)
        assert "Loaded image: sha256:" in r.stdout
    else:
        assert "Loaded image: docker.io/library/bb:1" in r.stdout or "example.test/bb:1" in r.stdout
    out = json.loads(nb(runner, store, "images", "--format", "json", check=True).stdout)
    assert len(out) == (2 if archive == "oci" else 1)  # the layout holds bb and multi
    assert all(i["Os"] == "linux" for i in out)


def test_run_image_config_and_overlay(runner, store, images):
    nb(runner, store, "load", "-i", f"{images}/bb-oci-archive.tar", check=True)
    r = nb(runner, store, "run", "example.test/bb:1", check=True)
    assert r.stdout.strip() == "hello from the-image in /tmp"
    r = nb(runner, store, "run", "-e", "GREETING=me", "-w", "/etc", "--image", "example.test/bb:1", check=True)
    assert r.stdout.strip() == "hello from me in /etc"
    r = nb(runner, store, "run", "example.test/bb:1", "cat", "/proc/self/mountinfo", check=True)
    root = next(line for line in r.stdout.splitlines() if line.split()[4] == "/")
    assert " overlay " in root and "lowerdir=" in root
    r = nb(runner, store, "run", "--entrypoint", "/bin/echo", "example.test/bb:1", "x", "y", check=True)
    assert r.stdout == "x y\n"
    # writes go to the container's upper directory: the next container sees the image unchanged
    nb(runner, store, "run", "example.test/bb:1", "sh", "-c", "echo changed > /etc/passwd", check=True)
    r = nb(runner, store, "run", "example.test/bb:1", "cat", "/etc/passwd", check=True)
    assert "changed" not in r.stdout and r.stdout.startswith("root:")


def test_whiteouts_and_user(runner, store, images):
    nb(runner, store, "load", "-i", f"{images}/multi-oci-archive.tar", check=True)
    userns = ("--userns", "auto") if runner.rootless else ()  # uid 1000 must be mapped
    r = nb(runner, store, "run", *userns, "example.test/multi:1", check=True)
    assert r.stdout.strip() == "1000"  # Entrypoint + Cmd, as the image's User
    r = nb(runner, store, "run", "-u", "0", "example.test/multi:1", "-c",  # Entrypoint: /bin/sh
           "ls /etc/motd 2>&1; ls /data/dir; cat /data/keep", check=True)
    assert "No such file" in r.stdout and "f1" not in r.stdout
    assert "new" in r.stdout and r.stdout.rstrip().endswith("k")


def test_opaque_directory(runner, store):
    d = tempfile.mkdtemp(prefix="nsbox-opaque-")
    lay = Layout(f"{d}/lay")
    lay.image([busybox_layer(shutil.which("busybox")), tar_bytes([("d/old", "file", "o")]),
               tar_bytes([("d/.wh..wh..opq", "file", ""), ("d/fresh", "file", "f")])],
              config={"Cmd": ["/bin/ls", "/d"]}, name="example.test/opaque:1")
    lay.write()
    os.system(f"chmod -R a+rX {d}")
    try:
        nb(runner, store, "load", "-i", lay.path, check=True)
        r = nb(runner, store, "run", "example.test/opaque:1", check=True)
        assert r.stdout.split() == ["fresh"]
    finally:
        shutil.rmtree(d)


def test_first_word_rule(runner, store, images):
    r = nb(runner, store, "run", "true")
    assert r.returncode == 0  # a program on the default root's PATH: a command
    r = nb(runner, store, "run", "--pull", "never", "no-such-image-here")
    assert r.returncode == 125 and "no-such-image-here" in r.stderr and "not in the local store" in r.stderr
    nb(runner, store, "load", "-i", f"{images}/bb-oci-archive.tar", check=True)
    nb(runner, store, "tag", "example.test/bb:1", "true", check=True)
    r = nb(runner, store, "run", "true", "echo", "from-image")  # a local image's name wins
    assert r.stdout == "from-image\n", r.stderr
    r = nb(runner, store, "run", "--", "true", "echo", "from-image")  # ...unless after `--`: the command
    assert r.returncode == 0 and r.stdout == ""
    r = nb(runner, store, "run", "/bin/true")
    assert r.returncode == 0


def test_rmi_refused_while_used_tag_inspect(runner, store, images):
    nb(runner, store, "load", "-i", f"{images}/bb-oci-archive.tar", check=True)
    nb(runner, store, "tag", "example.test/bb:1", "example.test/other:2", check=True)
    info = json.loads(nb(runner, store, "image", "inspect", "example.test/other:2", check=True).stdout)[0]
    assert sorted(info["RepoTags"]) == ["example.test/bb:1", "example.test/other:2"]
    assert info["Config"]["WorkingDir"] == "/tmp" and len(info["Layers"]) == 1
    r = nb(runner, store, "rmi", "example.test/other:2", check=True)  # a name of several: untagged
    assert "Untagged: example.test/other:2" in r.stdout
    cid = nb(runner, store, "run", "-d", "--name", "user-of-bb", "example.test/bb:1", "sleep", "60",
             check=True).stdout.strip()
    try:
        ps = json.loads(nb(runner, store, "ps", "--format", "json", check=True).stdout)
        mine = next(e for e in ps if e["name"] == "user-of-bb")
        assert mine["image"] == "example.test/bb:1" and mine["imageId"] == info["Id"]
        assert mine["command"] == ["sleep", "60"]
        r = nb(runner, store, "rmi", "example.test/bb:1")
        assert r.returncode == 1 and "in use by container(s) user-of-bb" in r.stderr
        assert nb(runner, store, "images", "-q", check=True).stdout.strip()
        nb(runner, store, "rmi", "-f", "example.test/bb:1", check=True)  # forced: the image goes...
        assert nb(runner, store, "images", "-q", check=True).stdout == ""
        r = nb(runner, store, "exec", cid, "cat", "/etc/passwd", check=True)  # ...its layers stay while used
        assert r.stdout.startswith("root:") and os.listdir(f"{store}/layers")
    finally:
        nb(runner, store, "rm", "-f", cid)
    nb(runner, store, "image", "prune", check=True)
    for sub in ("blobs/sha256", "layers", "tmp"):
        assert os.listdir(f"{store}/{sub}") == [], sub


def test_save_load_roundtrip_and_prune(root_runner, store, images, tmp_path):
    runner = root_runner
    nb(runner, store, "load", "-i", f"{images}/multi-oci-archive.tar", check=True)
    nb(runner, store, "save", "-o", str(tmp_path / "out.tar"), "example.test/multi:1", check=True)
    nb(runner, store, "save", "--format", "docker-archive", "-o", str(tmp_path / "docker.tar"),
       "example.test/multi:1", check=True)
    # skopeo reads both (as docker load / podman load would)
    for fmt, f in (("oci-archive", "out.tar"), ("docker-archive", "docker.tar")):
        r = sh("skopeo", "inspect", "--raw", f"{fmt}:{tmp_path / f}")
        assert len(json.loads(r.stdout)["layers"]) == 3
    streamed = subprocess.run(runner.argv("--storage", store, "save", "example.test/multi:1"), capture_output=True,
                              env=runner.env(), check=True).stdout  # to stdout
    assert tarfile.open(fileobj=io.BytesIO(streamed)).getmember("index.json")
    nb(runner, store, "rmi", "example.test/multi:1", check=True)
    r = subprocess.run(runner.argv("--storage", store, "load"), input=streamed, capture_output=True,
                       env=runner.env())  # from stdin
    assert r.returncode == 0 and b"Loaded image: example.test/multi:1" in r.stdout, r.stderr
    assert os.listdir(f"{store}/tmp") == []
    nb(runner, store, "rmi", "example.test/multi:1", check=True)
    nb(runner, store, "load", "-i", str(tmp_path / "out.tar"), check=True)
    r = nb(runner, store, "run", "-u", "0", "example.test/multi:1", "-c", "cat /data/dir/new", check=True)
    assert r.stdout == "new"
    # leftovers of a killed writer and an unnamed image go with prune
    os.mkdir(f"{store}/tmp/4194305-dead")
    nb(runner, store, "load", "-i", f"{images}/oci", check=True)  # unnamed
    nb(runner, store, "image", "prune", check=True)
    out = json.loads(nb(runner, store, "images", "--format", "json", check=True).stdout)
    assert [i["Names"] for i in out] == [["example.test/multi:1"]]
    assert os.listdir(f"{store}/tmp") == []


@pytest.mark.root
def test_bad_archives(root_runner, store, tmp_path):
    lay = Layout(str(tmp_path / "evil"))
    lay.image([tar_bytes([("../../escaped", "file", "x")])], name="example.test/evil:1")
    lay.write()
    r = nb(root_runner, store, "load", "-i", lay.path)
    assert r.returncode == 1 and "escapes the target directory" in r.stderr
    assert not (tmp_path / "escaped").exists()
    assert os.listdir(f"{store}/layers") == [] and os.listdir(f"{store}/tmp") == []
    r = nb(root_runner, store, "load", "-i", str(tmp_path / "missing.tar"))
    assert r.returncode == 1 and "no such file" in r.stderr
    (tmp_path / "junk.tar").write_bytes(b"junk" * 100)
    r = nb(root_runner, store, "load", "-i", str(tmp_path / "junk.tar"))
    assert r.returncode == 1 and "not an image archive" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.root
def test_layer_size_cap(root_runner, store, tmp_path):
    lay = Layout(str(tmp_path / "bomb"))
    lay.image([tar_bytes([("zeros", "file", b"\0" * (8 << 20))])], name="example.test/bomb:1")
    lay.write()
    env = {"NSBOX_MAX_LAYER_SIZE": str(1 << 20)}
    r = subprocess.run(root_runner.argv("--storage", store, "load", "-i", lay.path), capture_output=True,
                       text=True, env={**root_runner.env(), **env})
    assert r.returncode == 1 and "exceeds the limit of 1048576 bytes" in r.stderr
    assert os.listdir(f"{store}/layers") == []


# -- registries -----------------------------------------------------------------------------------

def test_pull_anonymous_and_run(runner, store, registry):
    r = nb(runner, store, "pull", f"{registry.host}/test/multi:1", check=True)
    assert r.stdout.startswith("sha256:")
    assert r.stderr.count(": downloaded") >= 3  # one line per layer, not at a terminal
    r = nb(runner, store, "run", "-u", "0", f"{registry.host}/test/multi:1", "-c", "cat /data/keep", check=True)
    assert r.stdout == "k"
    r = nb(runner, store, "pull", f"{registry.host}/test/absent:1")
    assert r.returncode == 1 and "not found" in r.stderr


def test_run_pulls_missing_image(runner, store, registry):
    r = nb(runner, store, "run", f"{registry.host}/test/bb:1", "echo", "pulled-and-ran", check=True)
    assert r.stdout == "pulled-and-ran\n" and "pulling" in r.stderr
    r = nb(runner, store, "run", f"{registry.host}/test/bb:1", "true", check=True)
    assert "pulling" not in r.stderr  # present now
    r = nb(runner, store, "run", "--pull", "sometimes", f"{registry.host}/test/bb:1")
    assert r.returncode == 125 and "--pull `sometimes`" in r.stderr


def test_pull_manifest_list_platform(root_runner, store, registry):
    nb(root_runner, store, "pull", "-q", f"{registry.host}/test/multiarch:1", check=True)
    lay = json.loads(nb(root_runner, store, "image", "inspect", f"{registry.host}/test/multiarch:1",
                        check=True).stdout)[0]["Layers"][0]["Path"]
    assert open(f"{lay}/which").read() == "amd64"
    nb(root_runner, store, "pull", "-q", "--platform", "linux/arm64", f"{registry.host}/test/multiarch:1",
       check=True)
    info = json.loads(nb(root_runner, store, "image", "inspect", f"{registry.host}/test/multiarch:1",
                         check=True).stdout)[0]
    assert info["Architecture"] == "arm64" and open(f"{info['Layers'][0]['Path']}/which").read() == "arm64"
    r = nb(root_runner, store, "pull", "--platform", "linux/s390x", f"{registry.host}/test/multiarch:1")
    assert r.returncode == 1 and "no image for linux/s390x" in r.stderr


@pytest.mark.root
def test_pull_basic_auth_and_login(root_runner, store, images, tmp_path):
    reg = DockerRegistry(str(tmp_path / "reg"), htpasswd=("alice", "s3cret"))
    try:
        sh("skopeo", "copy", "-q", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret",
           f"oci:{images}/oci:bb", f"docker://{reg.host}/test/bb:1")
        authfile = str(tmp_path / "auth.json")
        r = nb(root_runner, store, "pull", "--authfile", authfile, f"{reg.host}/test/bb:1")
        assert r.returncode == 1 and "requires a login" in r.stderr
        r = nb(root_runner, store, "login", "--authfile", authfile, "-u", "alice", "--password-stdin", reg.host,
               input="wrong\n")
        assert r.returncode == 1 and "refused the credentials" in r.stderr and not os.path.exists(authfile)
        nb(root_runner, store, "login", "--authfile", authfile, "-u", "alice", "--password-stdin", reg.host,
           input="s3cret\n", check=True)
        assert os.stat(authfile).st_mode & 0o777 == 0o600
        assert reg.host in json.load(open(authfile))["auths"]
        nb(root_runner, store, "pull", "-q", "--authfile", authfile, f"{reg.host}/test/bb:1", check=True)
        nb(root_runner, store, "logout", "--authfile", authfile, reg.host, check=True)
        assert json.load(open(authfile))["auths"] == {}
    finally:
        reg.stop()


@pytest.mark.root
def test_pull_bearer_token(root_runner, store, registry, tmp_path):
    front = Front(registry.host, mode="bearer", creds=("bob", "pw"))
    try:
        authfile = str(tmp_path / "auth.json")
        r = nb(root_runner, store, "pull", "--authfile", authfile, f"{front.host}/test/bb:1")
        assert r.returncode == 1 and "refused the anonymous request" in r.stderr
        nb(root_runner, store, "login", "--authfile", authfile, "-u", "bob", "-p", "pw", front.host, check=True)
        nb(root_runner, store, "pull", "-q", "--authfile", authfile, f"{front.host}/test/bb:1", check=True)
        assert any(p.startswith("/token") for _, p, _ in front.requests)
        nb(root_runner, store, "run", f"{front.host}/test/bb:1", check=True)
    finally:
        front.stop()


@pytest.mark.root
def test_two_pulls_at_once_download_each_blob_once(root_runner, store, registry, images):
    front = Front(registry.host, throttle=0.002)
    try:
        procs = [root_runner.popen("--storage", store, "pull", "-q", f"{front.host}/test/multi:1")
                 for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert outs[0][0] == outs[1][0]
        manifest = json.loads(nb(root_runner, store, "image", "inspect", f"{front.host}/test/multi:1",
                                 check=True).stdout)[0]
        for layer in manifest["Layers"]:
            assert front.blob_gets(layer["Digest"]) == 1, layer["Digest"]
    finally:
        front.stop()


@pytest.mark.root
def test_sigkill_during_pull_leaves_nothing_used_and_resumes(root_runner, store, registry):
    front = Front(registry.host, throttle=0.02)  # ~800 kB/s: the busybox layer takes a second or two
    try:
        p = root_runner.popen("--storage", store, "pull", f"{front.host}/test/bb:1")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            partial = os.listdir(f"{store}/partial") if os.path.isdir(f"{store}/partial") else []
            if partial and os.path.getsize(f"{store}/partial/{partial[0]}") > 100000:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the pull never started downloading")
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert nb(root_runner, store, "images", "-q", check=True).stdout == ""
        assert os.listdir(f"{store}/layers") == []
        r = nb(root_runner, store, "run", "--pull", "never", f"{front.host}/test/bb:1")
        assert r.returncode == 125 and "not in the local store" in r.stderr
        front.throttle = 0
        nb(root_runner, store, "pull", "-q", f"{front.host}/test/bb:1", check=True)
        ranges = [rng for _, path, rng in front.requests if "/blobs/" in path and rng]
        assert ranges and ranges[-1].startswith("bytes=") and ranges[-1] != "bytes=0-"  # resumed
        assert os.listdir(f"{store}/partial") == [] and os.listdir(f"{store}/tmp") == []
        nb(root_runner, store, "run", f"{front.host}/test/bb:1", check=True)
    finally:
        front.stop()


@pytest.mark.root
@pytest.mark.parametrize("mode,msg", [
    ("garbage", "answered something that is not HTTP"),
    ("hang", "did not answer within 1s"),
    ("tamper", "digest mismatch"),
])
def test_bad_registries(root_runner, store, registry, mode, msg):
    front = Front(registry.host, mode=mode)
    try:
        t0 = time.monotonic()
        r = nb(root_runner, store, "pull", "--timeout", "1", f"{front.host}/test/bb:1", timeout=60)
        assert r.returncode == 1 and msg in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and time.monotonic() - t0 < 30
        assert os.listdir(f"{store}/blobs/sha256") == [] or mode == "tamper"
        assert os.listdir(f"{store}/layers") == [] and os.listdir(f"{store}/partial") == []
        assert nb(root_runner, store, "images", "-q", check=True).stdout == ""
    finally:
        front.stop()


@pytest.mark.root
def test_wrong_manifest_media_type(root_runner, store, registry):
    """A registry answering with a document that is not a manifest (a config's media type)."""
    front = Front(registry.host, mode="wrongtype")
    try:
        r = nb(root_runner, store, "pull", f"{front.host}/test/bb:1")
        assert r.returncode == 1 and "is not an image manifest" in r.stderr, r.stderr
        assert nb(root_runner, store, "images", "-q", check=True).stdout == ""
    finally:
        front.stop()


@pytest.mark.root
def test_python_api_image(root_runner, store, images):
    nb(root_runner, store, "load", "-i", f"{images}/bb-oci-archive.tar", check=True)
    code = ("import nsbox, sys; nsbox.configure(storage=sys.argv[1], root=sys.argv[2]); "
            "r = nsbox.run([], image='example.test/bb:1'); print(r.returncode, r.stdout.decode().strip()); "
            "r = nsbox.run(['cat', '/etc/passwd'], image='example.test/bb:1', cwd='/'); print(r.stdout[:5])")
    r = subprocess.run([sys.executable, "-c", code, store, root_runner.root], capture_output=True, text=True,
                       env=root_runner.env())
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["0 hello from the-image in /tmp", "b'root:'"]


def test_commit_and_export(runner, store, images, tmp_path):
    nb(runner, store, "load", "-i", f"{images}/multi-oci-archive.tar", check=True)
    script = ("rm /data/keep && rm -rf /data/dir && mkdir /data/dir && echo y > /data/dir/y && "
              "mkdir /added && echo a > /added/a && sleep 60")
    cid = nb(runner, store, "run", "-d", "-u", "0", "--entrypoint", "/bin/sh", "example.test/multi:1", "-c",
             script, check=True).stdout.strip()
    try:
        deadline = time.monotonic() + 20
        while nb(runner, store, "exec", cid, "test", "-e", "/added/a").returncode != 0:
            assert time.monotonic() < deadline, "the container never made its changes"
            time.sleep(0.1)
        r = subprocess.run(runner.argv("--storage", store, "export", cid), capture_output=True, env=runner.env(),
                           cwd="/")
        assert r.returncode == 0, r.stderr
        names = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(r.stdout))}
        assert "data/.wh.keep" in names and "data/dir/.wh..wh..opq" in names and "added/a" in names
        assert names["added/a"].uid == 0  # as the container sees it (rootless: the caller is root inside)
        assert not any(n.startswith(("proc", "etc/hosts", "dev")) for n in names), sorted(names)
        nb(runner, store, "commit", cid, "example.test/committed:1", check=True)
    finally:
        nb(runner, store, "rm", "-f", cid)
    r = nb(runner, store, "run", "-u", "0", "example.test/committed:1", "-c",
           "ls /data; ls /data/dir; cat /added/a", check=True)
    assert r.stdout.split() == ["dir", "y", "a"]
    info = json.loads(nb(runner, store, "image", "inspect", "example.test/committed:1", check=True).stdout)[0]
    assert len(info["Layers"]) == 4 and info["Config"]["User"] == "1000:1000"


def test_device_nodes_and_foreign_root(runner, store, tmp_path_factory):
    d = tempfile.mkdtemp(prefix="nsbox-dev-")
    lay = Layout(f"{d}/lay")
    lay.image([busybox_layer(shutil.which("busybox")), tar_bytes([("dev", "dir", None),
                                                                  ("dev/mynull", "chr", (1, 3))])],
              name="example.test/dev:1")
    lay.write()
    os.system(f"chmod -R a+rX {d}")
    try:
        r = nb(runner, store, "load", "-i", lay.path, check=True)
        info = json.loads(nb(runner, store, "image", "inspect", "example.test/dev:1", check=True).stdout)[0]
        node = f"{info['Layers'][1]['Path']}/dev/mynull"
        if runner.rootless:
            assert "note: device node `dev/mynull` skipped (rootless)" in r.stderr
            assert not os.path.lexists(node)
        else:
            st = os.lstat(node)
            assert os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
            r = nb(runner, store, "run", "--uidmap", "0:100000:65536", "example.test/dev:1", "true")
            assert r.returncode == 125 and "owned by the store's owner" in r.stderr
    finally:
        shutil.rmtree(d)


def test_stop_signal_from_image(runner, store):
    d = tempfile.mkdtemp(prefix="nsbox-stopsig-")
    lay = Layout(f"{d}/lay")
    lay.image([busybox_layer(shutil.which("busybox"))], name="example.test/stopsig:1",
              config={"Cmd": ["/bin/sh", "-c", "trap 'exit 7' USR1; while true; do sleep 0.1; done"],
                      "StopSignal": "SIGUSR1"})
    lay.write()
    os.system(f"chmod -R a+rX {d}")
    try:
        nb(runner, store, "load", "-i", lay.path, check=True)
        cid = nb(runner, store, "run", "-d", "example.test/stopsig:1", check=True).stdout.strip()
        try:
            time.sleep(0.5)
            nb(runner, store, "stop", "-t", "20", cid, check=True)
            r = nb(runner, store, "wait", cid)
            assert r.stdout.strip() == "7", r.stderr  # not 143: SIGUSR1 first, as the image asks
        finally:
            nb(runner, store, "rm", "-f", cid)
    finally:
        shutil.rmtree(d)


@pytest.mark.root
def test_pull_https_with_registry_ca(root_runner, store, images, tmp_path):
    reg = DockerRegistry(str(tmp_path / "reg"), tls=True)
    try:
        sh("skopeo", "copy", "-q", f"--dest-cert-dir={reg.cert_dir}", f"oci:{images}/oci:bb",
           f"docker://{reg.host}/test/bb:1")
        r = nb(root_runner, store, "pull", f"{reg.host}/test/bb:1")
        assert r.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in r.stderr.upper().replace(" ", "_"), r.stderr
        nb(root_runner, store, "pull", "-q", "--cert-dir", reg.cert_dir, f"{reg.host}/test/bb:1", check=True)
        r = nb(root_runner, store, "run", f"{reg.host}/test/bb:1", check=True)
        assert "hello from the-image" in r.stdout
    finally:
        reg.stop()


def test_short_names_use_search_registries(runner, store, registry, shared_tmp):
    conf = f"{shared_tmp}/registries.conf"
    with open(conf, "w") as f:
        f.write(f'unqualified-search-registries = ["127.0.0.1:1", "{registry.host}"]\n')
    os.chmod(conf, 0o644)
    env = ("env", f"CONTAINERS_REGISTRIES_CONF={conf}")
    argv = runner.argv("--storage", store, "pull", "-q", "test/bb:1")
    i = argv.index(runner.nsbox)
    r = subprocess.run(argv[:i] + list(env) + argv[i:], capture_output=True, text=True, env=runner.env(), cwd="/")
    assert r.returncode == 0, r.stderr  # the first registry is unreachable: the next one has it
    names = json.loads(nb(runner, store, "images", "--format", "json", check=True).stdout)[0]["Names"]
    assert names == [f"{registry.host}/test/bb:1"]
    argv = runner.argv("--storage", store, "run", "test/bb:1", "echo", "short")
    r = subprocess.run(argv[:i] + list(env) + argv[i:], capture_output=True, text=True, env=runner.env(), cwd="/")
    assert r.stdout == "short\n", r.stderr


def test_many_layers(runner, store):
    """70 layers: the overlay's options must fit in a page (short l/ links as lowerdirs)."""
    d = tempfile.mkdtemp(prefix="nsbox-layers-")
    lay = Layout(f"{d}/lay")
    lay.image([busybox_layer(shutil.which("busybox"))] + [tar_bytes([(f"many/f{i:02}", "file", str(i))])
                                                         for i in range(69)],
              name="example.test/many:1", config={"Cmd": ["/bin/sh", "-c", "ls /many | wc -l; cat /many/f68"]})
    lay.write()
    os.system(f"chmod -R a+rX {d}")
    try:
        nb(runner, store, "load", "-i", lay.path, check=True)
        r = nb(runner, store, "run", "example.test/many:1", check=True)
        assert r.stdout.split() == ["69", "68"]
    finally:
        shutil.rmtree(d)
