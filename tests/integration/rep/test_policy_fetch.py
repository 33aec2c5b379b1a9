"""The policy agent's poll of the policy server over loopback: one kept connection for
every poll, and a clear error for a bad answer."""

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from foundry.rep.policy_agent import PolicyAgent

POLICY = {"source": {"id": "app-a"},
          "destination": {"id": "app-b", "protocol": "tcp", "ports": {"start": 8080, "end": 8080}}}


class PolicyServer(http.server.ThreadingHTTPServer):
    """The CC's internal policies endpoint, counting connections; `status` is its answer."""

    def __init__(self) -> None:
        self.connections, self.paths, self.status = 0, [], 200
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                server.connections += 1

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.paths.append(self.path)
                body = json.dumps({"policies": [POLICY]} if server.status == 200
                                  else {"error": "database unavailable"}).encode()
                self.send_response(server.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[PolicyServer]:
    s = PolicyServer()
    yield s
    s.shutdown()
    s.server_close()


def agent(url: str) -> PolicyAgent:
    return PolicyAgent(url, bbs=None, cell_ip="10.0.0.2", containers=list,
                       apply=lambda cid, rules: None)


def test_every_poll_of_a_cell_rides_one_kept_connection(server: PolicyServer) -> None:
    a = agent(f"http://127.0.0.1:{server.server_address[1]}/")
    for _ in range(5):
        assert a.fetch_policies({"app-b", "app-a"}) == [POLICY]
    assert server.connections == 1
    assert server.paths == ["/networking/v1/internal/policies?id=app-a,app-b"] * 5


def test_an_error_answer_is_a_value_error_naming_the_server_and_status(
        server: PolicyServer) -> None:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    server.status = 503
    with pytest.raises(ValueError, match=rf"^policy server {url} answered 503: .*database"):
        agent(url).fetch_policies({"app-a"})


def test_no_server_is_an_os_error() -> None:
    s = PolicyServer()
    url = f"http://127.0.0.1:{s.server_address[1]}"
    s.shutdown()
    s.server_close()
    with pytest.raises(OSError):
        agent(url).fetch_policies({"app-a"})
