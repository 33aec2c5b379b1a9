"""Fuzzed input sent to live servers on loopback, each followed by a good request.

The property: a rejected input is answered (or the connection closed) promptly, and the
server still serves the next good request. The router runs with a real nats-server and
backend (the gorouter loopback harness); the Cloud Controller's HTTP edge runs in-process.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import example, given
from hypothesis import strategies as st

from foundry.cloud_controller.api import API
from foundry.cloud_controller.auth import Authenticator
from foundry.cloud_controller.bits import BitsStore
from foundry.cloud_controller.config import CCConfig
from foundry.cloud_controller.db import DB
from foundry.cloud_controller.server import PublicEndpoint
from foundry.cloud_controller.service import CloudController
from foundry.httpserver import APIServer
from foundry.uaa.jwt import SigningKey
from tests.fuzz.fuzzlib import request_heads, share
from tests.fuzz.test_fuzz_cc_credhub import FakeBBS

ANSWER_SECONDS = 10.0  # a rejected input is answered or closed within this


def exchange(port: int, data: bytes) -> bytes:
    """Send `data`, half-close, read until the server closes; fails on a hang."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_SECONDS) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            return b""  # the server refused mid-send (e.g. a head over its limit)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
        except TimeoutError:
            pytest.fail(f"no answer and no close within {ANSWER_SECONDS}s for {data[:80]!r}")
    assert time.monotonic() - start < ANSWER_SECONDS
    return out


def well_formed(answer: bytes) -> None:
    if answer:
        assert answer[:9] == b"HTTP/1.1 " and answer[9:12].isdigit(), answer[:80]


@pytest.fixture
def router(harness):
    harness.start_router(max_header_bytes=64 * 1024)
    b = harness.backend("app")
    harness.register("app.example.com", b)
    harness.wait_registered("app.example.com", b)
    return harness


def test_router_answers_fuzzed_heads_and_keeps_routing(router) -> None:
    port = router.router.proxy.port

    @share(0.25)
    @given(request_heads())
    @example(b"GET / HTTP/1.1\r\nHost: app.example.com\r\nX: a" + b" " * 60_000 + b"b\r\n"
             b"Y: \x01\r\n\r\n")
    @example(b"POST / HTTP/1.1\r\nHost: app.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"fffffffffffffffff\r\n")
    @example(b"POST / HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 10\r\n\r\nab")
    def run(data: bytes) -> None:
        well_formed(exchange(port, data))
        status, _, body = router.get("app.example.com")
        assert status == 200 and json.loads(body)["instance"] == "app"

    run()


# The CC checks a UAA token before it reads a body: the fuzzed requests carry an admin's.
CC_KEY = SigningKey("fuzz", rsa.generate_private_key(public_exponent=65537, key_size=2048))
ADMIN_TOKEN = CC_KEY.sign({"aud": ["cloud_controller"], "jti": "fuzz", "user_name": "admin",
                           "user_id": "admin", "client_id": "cf", "exp": 2**40, "iat": 0,
                           "scope": ["cloud_controller.admin", "cloud_controller.read",
                                     "cloud_controller.write"]})


@pytest.fixture
def cc_port(tmp_path):
    cfg = CCConfig(db_path=":memory:", bits_dir=str(tmp_path), internal_url="http://cc:9023")
    api = API(CloudController(cfg, DB(":memory:"), FakeBBS(), BitsStore(str(tmp_path))))
    auth = Authenticator({CC_KEY.kid: CC_KEY.public_key})
    srv = APIServer(("127.0.0.1", 0), PublicEndpoint(api, auth, cfg.max_bits_bytes))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


content_lengths = st.one_of(st.integers(-5, 2_000_000).map(str),
                            st.sampled_from(["", "abc", "1e3", "+5", " 7 ", "0x10", "٣", "-0"]))


def test_cc_answers_fuzzed_requests_and_keeps_serving(cc_port: int) -> None:
    @share(0.25)
    @given(st.sampled_from(["POST /v2/apps", "PUT /v2/apps/x", "POST /v2/routes", "GET /v2/info",
                            "PUT /v2/apps/x/bits", "DELETE /v2/routes/x"]),
           content_lengths, st.binary(max_size=64))
    @example("POST /v2/apps", "-1", b"{}")
    @example("POST /v2/apps", "abc", b"{}")
    def run(line: str, length: str, body: bytes) -> None:
        head = (f"{line} HTTP/1.1\r\nHost: api\r\nAuthorization: bearer {ADMIN_TOKEN}\r\n"
                f"Content-Length: {length}\r\n\r\n")
        answer = exchange(cc_port, head.encode("utf-8") + body)
        assert answer, "the CC answers every request, a bad one with 4xx"
        well_formed(answer)
        assert int(answer[9:12]) < 500, answer[:200]
        assert int(answer[9:12]) not in (401, 403), answer[:200]  # the body was read
        c = http.client.HTTPConnection("127.0.0.1", cc_port, timeout=ANSWER_SECONDS)
        c.request("GET", "/v2/info")
        assert c.getresponse().status == 200
        c.close()

    run()
