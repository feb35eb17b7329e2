"""A minimal CRI (runtime.v1) client over grpcio, written from the published CRI
API (k8s.io/cri-api api.proto): only the calls and fields the kubelet-path test
uses, encoded by hand in the protobuf wire format (no generated code)."""

from __future__ import annotations

import grpc

# -- protobuf wire format -------------------------------------------------------


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_str(num: int, value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def f_int(num: int, value: int) -> bytes:
    return _varint(num << 3) + _varint(value)


def f_msg(num: int, data: bytes) -> bytes:
    return f_str(num, data)


def f_map(num: int, mapping: dict[str, str]) -> bytes:
    return b"".join(f_msg(num, f_str(1, k) + f_str(2, v)) for k, v in mapping.items())


def decode(data: bytes) -> dict[int, list]:
    """field number -> values (ints for varints, bytes for length-delimited)."""
    out: dict[int, list] = {}
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire == 2:
            n, i = _read_varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(num, []).append(value)
    return out


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = n = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def first(msg: dict[int, list], num: int, default=None):
    values = msg.get(num)
    return values[0] if values else default


# -- messages -------------------------------------------------------------------
NODE = 2  # NamespaceMode


def pod_config(name: str, uid: str, namespace: str, cgroup_parent: str) -> bytes:
    meta = f_str(1, name) + f_str(2, uid) + f_str(3, namespace) + f_int(4, 0)
    ns_options = f_int(1, NODE)  # host network: no CNI plugin needed
    security = f_msg(1, ns_options)
    linux = f_str(1, cgroup_parent) + f_msg(2, security)
    import os

    hostname = os.uname().nodename  # a host-network pod has the node's name, as the kubelet gives it
    return f_msg(1, meta) + f_str(2, hostname) + f_map(6, {"test": "nsbox-runc"}) + f_msg(8, linux)


def container_config(name: str, image: str, command: list[str]) -> bytes:
    meta = f_str(1, name) + f_int(2, 0)
    return (f_msg(1, meta) + f_msg(2, f_str(1, image)) + b"".join(f_str(3, c) for c in command)
            + f_map(9, {"test": "nsbox-runc"}))


class RuntimeService:
    """runtime.v1.RuntimeService over a unix socket."""

    def __init__(self, socket_path: str) -> None:
        self.channel = grpc.insecure_channel(f"unix://{socket_path}")

    def call(self, method: str, request: bytes, timeout: float = 60) -> dict[int, list]:
        fn = self.channel.unary_unary(f"/runtime.v1.RuntimeService/{method}")
        return decode(fn(request, timeout=timeout))

    def version(self) -> dict[str, str]:
        r = self.call("Version", f_str(1, "v1"))
        return {"runtime_name": first(r, 2, b"").decode(), "runtime_api_version": first(r, 4, b"").decode()}

    def run_pod_sandbox(self, config: bytes, handler: str) -> str:
        return first(self.call("RunPodSandbox", f_msg(1, config) + f_str(2, handler)), 1).decode()

    def create_container(self, pod_id: str, config: bytes, pod_config_: bytes) -> str:
        r = self.call("CreateContainer", f_str(1, pod_id) + f_msg(2, config) + f_msg(3, pod_config_))
        return first(r, 1).decode()

    def start_container(self, cid: str) -> None:
        self.call("StartContainer", f_str(1, cid))

    def container_state(self, cid: str) -> tuple[int, int]:
        """(state: 0 created, 1 running, 2 exited, 3 unknown; exit code)."""
        status = decode(first(self.call("ContainerStatus", f_str(1, cid)), 1, b""))
        return first(status, 3, 0), first(status, 7, 0)

    def exec_sync(self, cid: str, cmd: list[str], timeout: int = 10) -> tuple[bytes, bytes, int]:
        r = self.call("ExecSync", f_str(1, cid) + b"".join(f_str(2, c) for c in cmd) + f_int(3, timeout))
        code = first(r, 3, 0)
        return first(r, 1, b""), first(r, 2, b""), code - (1 << 64) if code >= 1 << 63 else code

    def stop_container(self, cid: str, timeout: int = 0) -> None:
        self.call("StopContainer", f_str(1, cid) + f_int(2, timeout))

    def remove_container(self, cid: str) -> None:
        self.call("RemoveContainer", f_str(1, cid))

    def stop_pod_sandbox(self, pod_id: str) -> None:
        self.call("StopPodSandbox", f_str(1, pod_id))

    def remove_pod_sandbox(self, pod_id: str) -> None:
        self.call("RemovePodSandbox", f_str(1, pod_id))

    def list_pod_sandboxes(self) -> list[str]:
        r = self.call("ListPodSandbox", b"")
        return [first(decode(p), 1, b"").decode() for p in r.get(1, [])]

    def list_containers(self) -> list[str]:
        r = self.call("ListContainers", b"")
        return [first(decode(c), 1, b"").decode() for c in r.get(1, [])]

    def close(self) -> None:
        self.channel.close()
