"""Loopback harness: certificates, plain backends, and the proxy as a subprocess."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading

import pytest
import yaml

from foundry.pki import ca
from tests.envoy_support import FIXTURES, admin_get, fill_markers
from tests.support import free_port, wait_for

REPO = pathlib.Path(__file__).resolve().parents[3]
ROUTER_SAN = "gorouter.service.cf.internal"


class Pki:
    def __init__(self) -> None:
        self.root = ca.new_ca("instance identity root")
        self.inter = ca.new_ca("instance identity intermediate", issuer=self.root)
        self.router_ca = ca.new_ca("gorouter backend tls ca")
        self.other_ca = ca.new_ca("some other ca")
        self.router = ca.issue_leaf(self.router_ca, ROUTER_SAN, dns_names=[ROUTER_SAN],
                                    server_auth=False, client_auth=True)
        self.router_wrong_ca = ca.issue_leaf(self.other_ca, ROUTER_SAN, dns_names=[ROUTER_SAN],
                                             server_auth=False, client_auth=True)
        self.router_wrong_san = ca.issue_leaf(self.router_ca, "evil", dns_names=["evil.example"],
                                              server_auth=False, client_auth=True)

    def instance(self) -> tuple[str, ca.Credential]:
        guid = ca.new_instance_guid()
        return guid, ca.issue_instance_identity(self.inter, guid, ["app:a"], "127.0.0.1")


@pytest.fixture(scope="session")
def pki() -> Pki:
    return Pki()


class _HttpHandler(socketserver.BaseRequestHandler):
    """Keep-alive HTTP/1.1 responder; ``ECHO`` as first bytes switches to echo-until-EOF."""

    def handle(self) -> None:
        sock = self.request
        buf = b""
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                if buf.startswith(b"ECHO"):
                    sock.sendall(b"BYE")
                return
            buf += data
            if buf.startswith(b"ECHO"):
                sock.sendall(data)
                continue
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                path = head.split(b" ")[1] if b" " in head else b"/"
                body = b"hello " + path
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


@pytest.fixture(scope="session")
def backend() -> int:
    server = _Server(("127.0.0.1", 0), _HttpHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


class Proxy:
    """Writes a seed-layout (or SDS-layout) config and runs ``python -m foundry.envoy``."""

    def __init__(self, tmp: pathlib.Path, pki: Pki, backend: int) -> None:
        self.dir = tmp
        self.pki = pki
        self.backend = backend
        self.admin_port = free_port()
        self.ports = [free_port(), free_port()]
        self.guid, self.cred = pki.instance()
        self.proc: subprocess.Popen | None = None
        self.strict = False
        self.handshake_timeout: str | None = None

    # -- files -------------------------------------------------------------
    def write(self, name: str, text: str) -> None:
        """Replace a file the way the executor does: write ``.tmp`` then rename."""
        tmp = self.dir / f"{name}.tmp"
        tmp.write_text(text)
        os.rename(tmp, self.dir / name)

    def bootstrap(self) -> dict:
        doc = yaml.safe_load((FIXTURES / "pcf-2.2-envoy.yaml").read_text())
        doc["admin"]["address"]["socket_address"].update(port_value=self.admin_port)
        for c in doc["static_resources"]["clusters"]:
            c["hosts"][0]["socket_address"].update(address="127.0.0.1", port_value=self.backend)
        doc["dynamic_resources"]["lds_config"]["path"] = str(self.dir / "listeners.yaml")
        return doc

    def listeners(self, cred: ca.Credential | None = None) -> dict:
        cred = cred or self.cred
        text = fill_markers((FIXTURES / "pcf-2.2-listeners.yaml").read_text(),
                            cred.chain_pem, cred.key_pem)
        doc = yaml.safe_load(text)
        for res, port in zip(doc["resources"], self.ports, strict=True):
            res["address"]["socket_address"].update(address="127.0.0.1", port_value=port)
            chain = res["filter_chains"][0]
            if self.handshake_timeout:
                chain["transport_socket_connect_timeout"] = self.handshake_timeout
            if self.strict:
                chain["tls_context"]["require_client_certificate"] = True
                chain["tls_context"]["common_tls_context"]["validation_context"] = {
                    "trusted_ca": {"inline_string": self.pki.router_ca.cert_pem.decode()},
                    "verify_subject_alt_name": [ROUTER_SAN],
                }
        return doc

    def write_config(self) -> None:
        self.write("envoy.yaml", yaml.safe_dump(self.bootstrap()))
        self.write("listeners.yaml", yaml.safe_dump(self.listeners()))

    # -- process -----------------------------------------------------------
    def start(self, *extra: str, drain_time: str = "900", wait_ports: list[int] | None = None) -> None:
        # EXTRA_PYTHONPATH=/dir/with/a/failing/uvloop.py: exercises the stdlib event loop.
        env = dict(os.environ, PYTHONPATH=os.environ.get("EXTRA_PYTHONPATH", "") + str(REPO))
        self.log = open(self.dir / "envoy.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "foundry.envoy", "-c", str(self.dir / "envoy.yaml"),
             "--service-cluster", "proxy-cluster",
             "--service-node", f"sidecar~127.0.0.1~{self.guid}~x",
             "--drain-time-s", drain_time, "--log-level", "info", "--poll-interval-ms", "100",
             *extra],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.get("/ready")[1] == "LIVE\n", what="admin /ready")
        for port in self.ports if wait_ports is None else wait_ports:
            wait_for(lambda p=port: _can_connect(p), what=f"listener on {port}")

    def logs(self) -> str:
        return (self.dir / "envoy.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    # -- admin -------------------------------------------------------------
    def get(self, path: str, method: str = "GET") -> tuple[int, str]:
        return admin_get(self.admin_port, path, method)

    def stat(self, name: str) -> int:
        _, body = self.get(f"/stats?format=json&filter=^{name.replace('.', '[.]')}$")
        stats = json.loads(body)["stats"]
        return stats[0]["value"] if stats else 0

    # -- clients -----------------------------------------------------------
    def client_context(self, cert: ca.Credential | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=self.pki.root.cert_pem.decode())
        if cert is not None:
            d = self.dir / f"client-{id(cert)}.pem"
            d.write_bytes(cert.chain_pem + cert.key_pem)
            ctx.load_cert_chain(d)
        return ctx

    def connect(self, port: int | None = None, cert: ca.Credential | None = None,
                ctx: ssl.SSLContext | None = None) -> ssl.SSLSocket:
        ctx = ctx or self.client_context(cert)
        raw = socket.create_connection(("127.0.0.1", port or self.ports[0]), timeout=10)
        return ctx.wrap_socket(raw, server_hostname=self.guid)


def _can_connect(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_get(sock: socket.socket, path: str = "/") -> bytes:
    """One keep-alive request; returns the body (raises on a closed connection)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-body")
        body += chunk
    return body


def peer_serial(sock: ssl.SSLSocket) -> int:
    from cryptography import x509

    return x509.load_der_x509_certificate(sock.getpeercert(binary_form=True)).serial_number


@pytest.fixture
def proxy(tmp_path, pki, backend):
    p = Proxy(tmp_path, pki, backend)
    yield p
    p.stop()
    if hasattr(p, "log"):
        p.log.close()


@pytest.fixture
def helpers():
    return type("H", (), {"wait_for": staticmethod(wait_for), "http_get": staticmethod(http_get),
                          "peer_serial": staticmethod(peer_serial),
                          "free_port": staticmethod(free_port),
                          "can_connect": staticmethod(_can_connect)})
