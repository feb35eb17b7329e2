"""The Kubernetes path: containerd's CRI plugin with a runtime handler ``nsbox``
(runtime_type io.containerd.runc.v2, BinaryName nsbox-runc), driven through the
CRI gRPC API as the kubelet drives it: RunPodSandbox, CreateContainer,
StartContainer, ExecSync, StopPodSandbox, RemovePodSandbox."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from tests.conftest import IS_ROOT, SESSION
from tests.integration.containerd_helpers import Containerd
from tests.integration.oci_image import write_archive
from tests.integration.runc_helpers import RUNC, cgroup_dirs

pytestmark = pytest.mark.root
IMAGE = "docker.io/library/nsbox-runc-test:latest"
PAUSE = "docker.io/library/nsbox-runc-pause:latest"
CGROUP_PARENT = f"/nsbox-test-{SESSION}-cri"

CRI_CONFIG = """
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  stream_server_port = "0"
  enable_selinux = false
  restrict_oom_score_adj = true  # (no CAP_SYS_RESOURCE here: the pause container's -998 could not be set)
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "nsbox"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nsbox]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nsbox.options]
        BinaryName = "{runc}"
        Root = "{d}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni/bin"
    conf_dir = "{d}/cni/conf"
"""


@pytest.fixture(scope="module")
def cri(busybox_rootfs):
    if not IS_ROOT:
        pytest.skip("needs root")
    if shutil.which("containerd") is None:
        pytest.fail("containerd is not installed (scripts/test installs it)")
    from tests.integration.cri_client import RuntimeService

    d = f"/tmp/nsbox-runc-cri-{SESSION}"
    cd = Containerd(d, extra=CRI_CONFIG.format(pause=PAUSE, runc=RUNC, d=d), cri=True)
    try:
        write_archive(busybox_rootfs, f"{d}/image.tar", IMAGE)
        write_archive(busybox_rootfs, f"{d}/pause.tar", PAUSE, cmd=["sleep", "2147483647"])
        for tar in ("image.tar", "pause.tar"):
            subprocess.run(["ctr", "-a", cd.sock, "-n", "k8s.io", "images", "import", "--snapshotter", "native",
                            f"{d}/{tar}"], check=True, capture_output=True)
        rs = RuntimeService(cd.sock)
        end = time.monotonic() + 30
        while True:
            try:
                rs.version()
                break
            except Exception:  # noqa: BLE001 - the CRI plugin is still starting
                assert time.monotonic() < end, open(f"{d}/containerd.log").read()[-3000:]
                time.sleep(0.2)
        yield rs
        for pod in rs.list_pod_sandboxes():
            rs.stop_pod_sandbox(pod)
            rs.remove_pod_sandbox(pod)
        rs.close()
    finally:
        cd.stop()
        subprocess.run(["sh", "-c", f"for d in /sys/fs/cgroup/*{CGROUP_PARENT}; do [ -d $d ] && "
                        "find $d -depth -type d -exec rmdir {} \\; ; done"], check=False)


def test_cri_pod_lifecycle(cri):
    from tests.integration.cri_client import container_config, pod_config

    assert cri.version()["runtime_api_version"].startswith("v1")
    pod = pod_config("nsbox-pod", f"uid-{SESSION}", "default", CGROUP_PARENT)
    pod_id = cri.run_pod_sandbox(pod, "nsbox")
    try:
        cid = cri.create_container(pod_id, container_config("app", IMAGE, ["sh", "-c", "echo up; sleep 1000"]), pod)
        assert cri.container_state(cid)[0] == 0  # CREATED
        cri.start_container(cid)
        assert cri.container_state(cid)[0] == 1  # RUNNING
        out, err, code = cri.exec_sync(cid, ["sh", "-c", "echo hello from cri; cat /proc/1/cmdline; exit 3"])
        # the pod shares one PID namespace (NamespaceMode POD): its PID 1 is the sandbox's pause process
        assert code == 3 and out.startswith(b"hello from cri\nsleep\x002147483647"), (out, err)
        assert cgroup_dirs(f"{CGROUP_PARENT}/{cid}")
        cri.stop_container(cid, 0)
        assert cri.container_state(cid)[0] == 2  # EXITED
    finally:
        cri.stop_pod_sandbox(pod_id)
        cri.remove_pod_sandbox(pod_id)
    assert cri.list_containers() == []
    assert not cgroup_dirs(f"{CGROUP_PARENT}/{pod_id}")
