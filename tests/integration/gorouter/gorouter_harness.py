"""Loopback helpers: a real nats-server, TLS/plain identity backends, an in-process router.

The router and backends run on an event loop in a background thread so tests
can use plain blocking sockets as clients. Nothing sleeps for a fixed time:
every wait polls a condition until a generous deadline.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from foundry import httpclient
from foundry.gorouter.accesslog import AccessLogWriter
from foundry.gorouter.config import from_dict
from foundry.gorouter.router import Router
from foundry.pki import Credential, issue_instance_identity, issue_leaf, new_ca, new_instance_guid
from tests.support import free_port, stop_process, wait_for  # noqa: F401  (free_port: re-exported)

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
DEADLINE = 20.0


def wait_until(cond: Callable[[], Any], timeout: float = DEADLINE, what: str = "condition",
               interval: float = 0.02) -> Any:
    """The shared wait, with the harness's deadline; an error in `cond` fails at once."""
    return wait_for(cond, timeout, interval, what, retry_on=())


# -- nats-server ---------------------------------------------------------------
class NatsServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers, what=f"nats-server on {self.port}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                return s.recv(4096).startswith(b"INFO")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def publish(self, subject: str, payload: bytes | str | dict) -> None:
        """Publish with a raw NATS connection (PING/PONG makes it synchronous)."""
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        if isinstance(payload, str):
            payload = payload.encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            f = s.makefile("rb")
            f.readline()  # INFO
            s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n'
                      + f"PUB {subject} {len(payload)}\r\n".encode() + payload
                      + b"\r\nPING\r\n")
            line = f.readline()
            assert line.startswith(b"PONG"), line


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    server = NatsServer(free_port())
    server.start()
    yield server
    server.stop()


# -- PKI -----------------------------------------------------------------------
@dataclass
class Pki:
    root: Credential
    identity_ca: Credential
    router_ca: Credential
    router_client: Credential
    untrusted_ca: Credential
    files: dict[str, str] = field(default_factory=dict)

    def instance(self, guid: str, ca: Credential | None = None) -> Credential:
        return issue_instance_identity(ca or self.identity_ca, guid,
                                       ["organization:o", "space:s", "app:a"], "127.0.0.1")


@pytest.fixture(scope="session")
def pki() -> Pki:
    root = new_ca("application_ca")
    identity = new_ca("instanceIdentityCA", issuer=root)
    router_ca = new_ca("service_cf_internal_ca")
    client = issue_leaf(router_ca, "gorouter_backend_tls",
                        dns_names=["gorouter.service.cf.internal"], server_auth=False,
                        client_auth=True)
    return Pki(root, identity, router_ca, client, new_ca("untrusted"))


# -- event loop thread ---------------------------------------------------------
class LoopThread:
    def __init__(self) -> None:
        import uvloop  # the router runs on uvloop in production; TLS alerts surface the same

        self.loop = uvloop.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], Any]) -> Any:
        async def _c():
            return fn()
        return self.run(_c())

    def close(self) -> None:
        async def _cancel_rest() -> None:
            me = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not me]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        try:
            self.run(_cancel_rest(), timeout=10)
        except Exception:  # noqa: BLE001 - teardown is best effort
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


# -- backends ------------------------------------------------------------------
def accept_until_closed(sock: socket.socket, handle: Callable[[socket.socket], None]) -> None:
    """Hands each connection `sock` accepts to `handle`, until `sock` is closed."""
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        handle(conn)


def close_draining(conn: socket.socket) -> None:
    """Shuts our side, reads until the peer closes, closes: the peer gets FIN, not RST."""
    try:
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()


class Backend:
    """Answers every request with its identity and the headers it received."""

    def __init__(self, name: str, *, cred: Credential | None = None,
                 client_ca: Credential | None = None) -> None:
        self.name = name
        self.cred = cred
        self.client_ca = client_ca
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.requests = 0

    def _ssl(self) -> ssl.SSLContext | None:
        if self.cred is None:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as d:
            cert, key = os.path.join(d, "c"), os.path.join(d, "k")
            open(cert, "wb").write(self.cred.chain_pem)
            open(key, "wb").write(self.cred.key_pem)
            ctx.load_cert_chain(cert, key)
        if self.client_ca is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata=self.client_ca.cert_pem.decode())
        return ctx

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._ssl())
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readexactly(1)
            if first == b"\x16" and self.cred is None:
                # A TLS ClientHello at a plain HTTP server: it answers 400 as text.
                writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                await writer.drain()
                return
            while True:
                head = first + await reader.readuntil(b"\r\n\r\n")
                first = b""
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ")
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                n = int(headers.get("content-length", "0"))
                body = await reader.readexactly(n) if n else b""
                self.requests += 1
                if headers.get("upgrade", "").lower() == "websocket":
                    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 b"Connection: Upgrade\r\n\r\n")
                    while data := await reader.read(4096):
                        writer.write(data.upper())
                        await writer.drain()
                    return
                if path.startswith("/hang"):
                    await asyncio.sleep(3600)
                payload = json.dumps({"instance": self.name, "method": method, "path": path,
                                      "headers": headers, "body": body.decode()}).encode()
                extra = b"Set-Cookie: JSESSIONID=abc; Path=/\r\n" if path == "/sticky" else b""
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra
                             + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, ValueError):
            pass
        finally:
            writer.close()


class ThreadedTLSBackend(Backend):
    """A blocking OpenSSL server in a thread: unlike asyncio's server it sends the TLS
    alert when it rejects a client certificate (as Envoy does), then closes cleanly."""

    async def start(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.ctx = self._ssl()
        threading.Thread(target=self._accept, daemon=True).start()

    async def stop(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        accept_until_closed(self.sock, lambda conn: threading.Thread(
            target=self._one, args=(conn,), daemon=True).start())

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            close_draining(conn)  # the alert went out; the client reads it, then EOF
            return
        try:
            f = tls.makefile("rb")
            while True:
                line = f.readline()
                if not line:
                    break
                while f.readline() not in (b"\r\n", b""):
                    pass
                self.requests += 1
                payload = json.dumps({"instance": self.name}).encode()
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: "
                            + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        except OSError:
            pass
        finally:
            tls.close()


# -- the router ----------------------------------------------------------------
class Harness:
    def __init__(self, lt: LoopThread, nats: NatsServer, tmp: str) -> None:
        self.lt = lt
        self.nats = nats
        self.tmp = tmp
        self.router: Router | None = None
        self.backends: list[Backend] = []

    def start_router(self, **overrides: Any) -> Router:
        settings: dict[str, Any] = {
            "port": 0, "status": {"port": 0, "user": "u", "pass": "p", "routes": {"port": 0}},
            "nats": {"hosts": [{"hostname": "127.0.0.1", "port": self.nats.port}]},
            "start_response_delay_interval": "0s", "endpoint_timeout": "5s",
            "access_log": {"file": os.path.join(self.tmp, "access.log"),
                           "enable_streaming": False},
        }
        settings.update(overrides)
        cfg = from_dict(settings)
        cfg.status_port = 0  # from_dict keeps 0 but be explicit for the listeners

        async def _start() -> Router:
            r = Router(cfg, access_log=AccessLogWriter(cfg.access_log_file, False))
            await r.start()
            return r

        self.router = self.lt.run(_start())
        wait_until(lambda: self.router.nats.connected, what="router connected to NATS")
        return self.router

    def backend(self, name: str, threaded: bool = False, **kw: Any) -> Backend:
        b = (ThreadedTLSBackend if threaded else Backend)(name, **kw)
        self.lt.run(b.start())
        self.backends.append(b)
        return b

    def register(self, uri: str, b: Backend, *, tls: bool = False, guid: str = "",
                 san: str | None = None, **extra: Any) -> dict:
        msg: dict[str, Any] = {"host": "127.0.0.1", "uris": [uri], "app": "app-guid",
                               "private_instance_id": guid or b.name,
                               "private_instance_index": "0",
                               "tags": {"component": "route-emitter"}}
        if tls:
            msg["tls_port"] = b.port
            msg["server_cert_domain_san"] = san if san is not None else (guid or b.name)
        else:
            msg["port"] = b.port
        msg.update(extra)
        self.nats.publish("router.register", msg)
        return msg

    def routes(self) -> dict:
        with httpclient.session() as http:
            r = http.get(f"http://127.0.0.1:{self.router.status.routes_port}/routes",
                         auth=("u", "p"), timeout=10)
        assert r.status_code == 200
        return r.json()

    def addresses(self, route: str) -> set[str]:
        return {e["address"] for e in self.routes().get(route, [])}

    def wait_registered(self, route: str, b: Backend) -> None:
        wait_until(lambda: f"127.0.0.1:{b.port}" in self.addresses(route),
                   what=f"{route} → {b.name} registered")

    def get(self, host: str, path: str = "/", headers: dict | None = None,
            method: str = "GET") -> tuple[int, dict, bytes]:
        """Stdlib http.client, not requests: these tests assert what the router does to
        a request, so the client sends only the headers given (requests adds
        Accept-Encoding, Accept, User-Agent and Connection, and decodes gzip bodies)."""
        import http.client

        c = http.client.HTTPConnection("127.0.0.1", self.router.proxy.port, timeout=30)
        try:
            c.request(method, path, headers={"Host": host, **(headers or {})})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def raw(self, data: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.router.proxy.port), timeout=30) as s:
            s.sendall(data)
            out = b""
            while chunk := s.recv(65536):
                out += chunk
            return out

    def close(self) -> None:
        if self.router is not None:
            self.lt.run(self.router.stop())
        for b in self.backends:
            self.lt.run(b.stop())


@pytest.fixture
def harness(loop_thread: LoopThread, nats_server: NatsServer, tmp_path) -> Iterator[Harness]:
    h = Harness(loop_thread, nats_server, str(tmp_path))
    yield h
    h.close()


@pytest.fixture
def guid() -> Callable[[], str]:
    return new_instance_guid
