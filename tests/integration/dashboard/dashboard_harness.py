"""The dashboard job as a subprocess on loopback: a real nats-server, a fake BBS that
the test edits, a real access-log file and job health endpoints (one up, one down)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from foundry import httpclient
from tests.support import REPO, free_port, stop_process, wait_for

NATS_SERVER = "/usr/sbin/nats-server"


class FakeBBS:
    """Serves desired/actual LRPs and cells the test sets; `/v1/events` answers when the
    test changes something (or after its timeout), like the BBS's long poll."""

    def __init__(self) -> None:
        self.desired: list[dict] = []
        self.actual: list[dict] = []
        self.cells: list[dict] = [{"cell_id": "cell-1", "zone": "z1"}]
        self.version = 0
        self.changed = threading.Condition()
        bbs = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                if path == "/v1/events":
                    after = int(self.path.split("after=")[1].split("&")[0])
                    with bbs.changed:
                        bbs.changed.wait_for(lambda: bbs.version != after, 1.0)
                        body = {"version": bbs.version}
                else:
                    body = {"/ping": {"ok": True}, "/v1/desired_lrps": bbs.desired,
                            "/v1/actual_lrps": bbs.actual, "/v1/cells": bbs.cells}.get(path)
                data = json.dumps(body).encode()
                try:
                    self.send_response(200 if body is not None else 404)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except ConnectionError:
                    pass  # the dashboard stopped mid long-poll

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, **kw) -> None:
        with self.changed:
            for k, v in kw.items():
                setattr(self, k, v)
            self.version += 1
            self.changed.notify_all()

    def stop(self) -> None:
        self.server.shutdown()


class Dashboard:
    def __init__(self, tmp: Path) -> None:
        self.nats_port = free_port()
        self.nats_log = open(tmp / "nats.log", "wb")  # noqa: SIM115
        self.nats = subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.nats_port)],
                                     stdout=self.nats_log, stderr=subprocess.STDOUT)
        self.bbs = FakeBBS()
        self.access_log = tmp / "access.log"
        self.port = free_port()
        self.down_port = free_port()  # nothing listens: a job that is down
        cfg = {"listen_address": f"127.0.0.1:{self.port}", "project": "loopback",
               "mode": "after-envoy", "cells": ["cell-1", "cell-2"],
               "bbs_address": f"http://127.0.0.1:{self.bbs.port}",
               "nats_servers": [f"nats://127.0.0.1:{self.nats_port}"],
               "access_log": str(self.access_log), "droplet_stale_threshold": 120,
               "jobs": [{"name": "bbs", "url": f"http://127.0.0.1:{self.bbs.port}/ping"},
                        {"name": "nats", "url": f"tcp://127.0.0.1:{self.nats_port}"},
                        {"name": "credhub", "url": f"tcp://127.0.0.1:{self.down_port}"}]}
        (tmp / "dashboard.json").write_text(json.dumps(cfg))
        self.log = open(tmp / "dashboard.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "foundry.dashboard", "-c",
                                      str(tmp / "dashboard.json")], cwd=REPO,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._up, what="the dashboard to listen")
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(self._subscribed, what="the dashboard's NATS subscription")

    def state(self, sections: str = "") -> dict:
        with httpclient.session() as http:
            resp = http.get(f"{self.url}/api/state", timeout=5,
                            params={"sections": sections} if sections else None)
        resp.raise_for_status()
        return resp.json()

    def _subscribed(self) -> bool:
        found = self.state("foundation")["sections"]["foundation"]["foundation"]
        return found.get("nats") == "connected"

    def _up(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def publish(self, subject: str, *messages: dict) -> None:
        """NATS publishes, in order, with the protocol's own text frames (no client library)."""
        with socket.create_connection(("127.0.0.1", self.nats_port), timeout=5) as s:
            s.recv(4096)  # INFO
            frames = b'CONNECT {"verbose":false}\r\n'
            for message in messages:
                data = json.dumps(message).encode()
                frames += b"PUB " + subject.encode() + f" {len(data)}\r\n".encode() + data + b"\r\n"
            s.sendall(frames + b"PING\r\n")
            got = b""
            while b"PONG" not in got:
                got += s.recv(4096)

    def log_request(self, line: str) -> None:
        with open(self.access_log, "a") as f:
            f.write(line + "\n")

    def stop(self) -> None:
        stop_process(self.proc)
        stop_process(self.nats)
        self.bbs.stop()
        self.log.close()
        self.nats_log.close()


class SSE:
    """A raw-socket EventSource: yields (event, data) as they arrive, with their time."""

    def __init__(self, port: int, path: str = "/events") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
                          .encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        self.status = int(head.split()[1])
        self.head = head.decode()

    def _until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("stream closed")
            self.buf += chunk
        out, self.buf = self.buf.split(sep, 1)
        return out

    def next(self) -> tuple[str, dict | None]:
        block = self._until(b"\n\n").decode()
        event, data = "message", None
        for ln in block.split("\n"):
            if ln.startswith("event: "):
                event = ln[7:]
            elif ln.startswith("data: "):
                data = json.loads(ln[6:])
        return event, data

    def wait(self, predicate, timeout: float = 5.0) -> tuple[str, dict, float]:
        """The first event matching `predicate(event, data)`; with when it came."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(timeout)
        while time.monotonic() < deadline:
            event, data = self.next()
            if data is not None and predicate(event, data):
                return event, data, time.monotonic()
        raise AssertionError("no matching event before the deadline")

    def close(self) -> None:
        self.sock.close()



class IdentityServer:
    """A proxy's TLS listener on loopback presenting an instance certificate the test can
    rotate (a new serial), as the cell does."""

    def __init__(self, tmp: Path) -> None:
        import ssl

        self.tmp = tmp
        self.serial = 0
        self.ctx: ssl.SSLContext | None = None
        self.rotate()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def rotate(self) -> int:
        import datetime as dt
        import ssl

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "inst-a0")])
        now = dt.datetime.now(dt.UTC)
        self.serial = x509.random_serial_number()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(self.serial)
                .not_valid_before(now).not_valid_after(now + dt.timedelta(hours=24))
                .sign(key, hashes.SHA256()))
        pem = self.tmp / "identity.pem"
        pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pem)
        self.ctx = ctx
        return self.serial

    def _serve(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(2)
                    tls.recv(1)
            except OSError:
                pass

    def stop(self) -> None:
        self.stopped = True
        self.sock.close()
