"""The scenario probe on loopback: one request through `requests`, classified as before."""

from __future__ import annotations

import socket
import threading

from orchestrator.scenario.classify import ERROR, INTENDED, MISROUTED
from orchestrator.scenario.load import probe
from tests.support import free_port


def _serve_once(reply: bytes) -> int:
    """A listener that reads one request and answers `reply` (b"" closes without one)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            conn.recv(65536)
            conn.sendall(reply)

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


def _answer(app: str) -> bytes:
    body = b'{"app_name": "%s"}' % app.encode()
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def test_the_apps_answer_is_intended_and_anothers_misrouted():
    assert probe(_serve_once(_answer("a")), "a", "a.example.com").outcome == INTENDED
    s = probe(_serve_once(_answer("b")), "a", "a.example.com")
    assert (s.outcome, s.answered_by) == (MISROUTED, "b")


def test_errors_keep_the_socket_layers_names():
    refused = probe(free_port(), "a", "a.example.com")
    assert (refused.outcome, refused.reason) == (ERROR, "connection_refused")
    hung_up = probe(_serve_once(b""), "a", "a.example.com")
    assert (hung_up.outcome, hung_up.reason) == (ERROR, "remote_disconnected")
