"""A threaded job's life: build, serve until SIGTERM, stop; a failed build is exit 1."""

from __future__ import annotations

import logging
import os
import signal
import socket
import socketserver
from collections.abc import Iterator

import pytest

from foundry.jobmain import serve_until_signalled, serving


@pytest.fixture(autouse=True)
def _keep_signal_handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_starts_then_stops_on_sigterm() -> None:
    calls: list[str] = []

    def start() -> None:
        calls.append("start")
        os.kill(os.getpid(), signal.SIGTERM)  # as Docker's stop would

    assert serve_until_signalled("job", lambda: (start, lambda: calls.append("stop"))) == 0
    assert calls == ["start", "stop"]


def test_a_build_that_fails_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    def build():
        raise OSError(98, "Address already in use")

    assert serve_until_signalled("job", build) == 1
    assert capsys.readouterr().err == "job: cannot start: [Errno 98] Address already in use\n"


def test_serving_serves_on_a_thread_and_stop_closes_the_socket_then_the_rest(
        caplog: pytest.LogCaptureFixture) -> None:
    closed: list[str] = []
    class Hello(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"hi")

    server = socketserver.TCPServer(("127.0.0.1", 0), Hello)
    start, stop = serving(server, "job", "job listening", lambda: closed.append("store"))
    with caplog.at_level(logging.INFO, logger="job"):
        start()
    assert caplog.messages == ["job listening"]
    with socket.create_connection(server.server_address[:2], timeout=5) as conn:
        assert conn.recv(2) == b"hi"  # served on its thread
    stop()
    assert closed == ["store"] and server.socket.fileno() == -1
