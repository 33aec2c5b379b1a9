"""Status auth, the router.start message and the registry fallback decoder."""

from __future__ import annotations

import base64

from foundry.gorouter.config import loads
from foundry.gorouter.nats_client import start_message
from foundry.gorouter.status import Health, StatusServer, check_basic_auth


def basic(user: str, pw: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


def test_basic_auth() -> None:
    assert check_basic_auth(basic("router-status", "pw"), "router-status", "pw")
    assert not check_basic_auth(basic("router-status", "bad"), "router-status", "pw")
    assert not check_basic_auth("Basic !!!", "u", "p")
    assert not check_basic_auth(None, "u", "p")


def test_start_message_shape() -> None:
    cfg = loads("index: 2\nip: 10.0.0.9\nstart_response_delay_interval: 20s\n"
                "droplet_stale_threshold: 120s")
    msg = start_message(cfg)
    assert set(msg) == {"id", "hosts", "minimumRegisterIntervalInSeconds",
                        "pruneThresholdInSeconds"}
    assert msg["id"].startswith("2-") and msg["hosts"] == ["10.0.0.9"]
    assert (msg["minimumRegisterIntervalInSeconds"], msg["pruneThresholdInSeconds"]) == (20, 120)


def test_status_handlers() -> None:
    health = Health()
    s = StatusServer(health, metrics_text=lambda: "x 1\n", routes_json=lambda: {"a": []},
                     user="u", password="p")
    assert s._status("/health", None).startswith(b"HTTP/1.1 503 ")
    health.state = Health.HEALTHY
    out = s._status("/health", None)
    assert out.startswith(b"HTTP/1.1 200 OK") and out.endswith(b"\r\n\r\nok\n")
    assert s._status("/metrics", None).endswith(b"x 1\n")
    assert s._routes("/routes", None).startswith(b"HTTP/1.1 401 ")
    assert s._routes("/routes", basic("u", "p")).endswith(b'{"a": []}')
