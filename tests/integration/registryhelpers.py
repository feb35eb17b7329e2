"""Registries for the image tests: Debian's docker-registry on a free loopback port
(optionally with htpasswd auth), and an in-process front (a thread) that proxies to
it while requiring bearer tokens from its own token endpoint, counting requests,
throttling blobs, or misbehaving (garbage, hanging, wrong content)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


class DockerRegistry:
    """``docker-registry serve`` with its storage under ``workdir``; stop() kills it by pid."""

    def __init__(self, workdir: str, htpasswd: tuple[str, str] | None = None, tls: bool = False) -> None:
        if shutil.which("docker-registry") is None:
            pytest.fail("docker-registry is not installed (scripts/test installs it)")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        os.makedirs(workdir, exist_ok=True)
        auth = ""
        if htpasswd:
            line = subprocess.run(["htpasswd", "-Bbn", *htpasswd], capture_output=True, text=True,
                                  check=True).stdout.strip()
            with open(f"{workdir}/htpasswd", "w") as f:
                f.write(line + "\n")
            auth = f"auth:\n  htpasswd:\n    realm: nsbox-test\n    path: {workdir}/htpasswd\n"
        tls_conf = ""
        if tls:  # a self-signed certificate for 127.0.0.1; its CA dir is self.cert_dir
            self.cert_dir = f"{workdir}/certs"
            os.makedirs(self.cert_dir)
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                            "-keyout", f"{workdir}/key.pem", "-out", f"{self.cert_dir}/ca.crt",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                           capture_output=True, check=True)
            tls_conf = f"  tls:\n    certificate: {self.cert_dir}/ca.crt\n    key: {workdir}/key.pem\n"
        with open(f"{workdir}/config.yml", "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {workdir}/data\n"
                    f"http:\n  addr: {self.host}\n{tls_conf}{auth}")
        self.log = open(f"{workdir}/log", "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", f"{workdir}/config.yml"], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_port(self.port)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.log.close()


class Front:
    """An HTTP server in a thread in front of ``upstream`` (host:port).

    mode: "proxy" (count, optionally throttle blobs), "bearer" (tokens from /token for
    ``user:password``), "garbage" (not HTTP), "hang" (never answers), "tamper"
    (blobs altered: a digest mismatch), "wrongtype" (manifests claim a config's media type)."""

    def __init__(self, upstream: str = "", mode: str = "proxy", creds: tuple[str, str] | None = None,
                 throttle: float = 0.0) -> None:
        self.upstream, self.mode, self.creds, self.throttle = upstream, mode, creds, throttle
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Range)
        self.tokens: set[str] = set()
        self.lock = threading.Lock()
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                front.handle(self)

            do_HEAD = do_GET

        if mode in ("garbage", "hang"):
            self.server = None
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.sock.listen(16)
            self.port = self.sock.getsockname()[1]
            self.conns: list[socket.socket] = []
            self.thread = threading.Thread(target=self._raw_loop, daemon=True)
        else:
            self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self.server.daemon_threads = True
            self.port = self.server.server_address[1]
            self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.host = f"127.0.0.1:{self.port}"
        self.thread.start()

    def _raw_loop(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.mode == "garbage":
                try:
                    c.recv(65536)
                    c.sendall(b"this is not HTTP at all\r\n\r\n")
                    c.close()
                except OSError:
                    pass

    def blob_gets(self, digest: str) -> int:
        with self.lock:
            return sum(1 for m, p, _ in self.requests if m == "GET" and p.endswith(f"/blobs/{digest}"))

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests.append((h.command, h.path, h.headers.get("Range") or ""))
        if self.mode == "bearer":
            if h.path.startswith("/token"):
                return self._token(h)
            auth = h.headers.get("Authorization") or ""
            if not (auth.startswith("Bearer ") and auth[7:] in self.tokens):
                realm = f"http://{self.host}/token"
                return self._reply(h, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {
                    "WWW-Authenticate": f'Bearer realm="{realm}",service="nsbox-test",scope="x"'})
        self._forward(h)

    def _token(self, h) -> None:
        want = "Basic " + base64.b64encode(":".join(self.creds or ("", "")).encode()).decode()
        if h.headers.get("Authorization") != want:
            return self._reply(h, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {})
        token = os.urandom(16).hex()
        self.tokens.add(token)
        self._reply(h, 200, json.dumps({"token": token}).encode(), {"Content-Type": "application/json"})

    @staticmethod
    def _reply(h, status: int, body: bytes, headers: dict[str, str]) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _forward(self, h) -> None:
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        headers = {k: v for k, v in h.headers.items() if k.lower() in ("accept", "range")}
        conn.request(h.command, h.path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        conn.close()
        if self.mode == "tamper" and "/blobs/" in h.path and body:
            body = body[:-1] + bytes([body[-1] ^ 1])
        ctype = r.getheader("Content-Type") or ""
        if self.mode == "wrongtype" and "/manifests/" in h.path:
            doc = json.loads(body)
            doc["mediaType"] = ctype = "application/vnd.oci.image.config.v1+json"
            body = json.dumps(doc).encode()
        h.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("docker-content-digest", "content-range", "www-authenticate", "location"):
                h.send_header(k, v)
        if ctype:
            h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command == "HEAD":
            return
        if self.throttle and "/blobs/" in h.path:
            try:
                for i in range(0, len(body), 16384):
                    h.wfile.write(body[i:i + 16384])
                    h.wfile.flush()
                    time.sleep(self.throttle)
            except OSError:
                pass
            return
        h.wfile.write(body)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        else:
            self.sock.close()
            for c in self.conns:
                c.close()
