"""The policy agent's poll of the policy server over loopback: one kept connection for
every poll, and a clear error for a bad answer."""

from collections.abc import Iterator
from typing import Any

import pytest

from foundry.rep.policy_agent import PolicyAgent
from tests.support import CountingHTTPServer

POLICY = {"source": {"id": "app-a"},
          "destination": {"id": "app-b", "protocol": "tcp", "ports": {"start": 8080, "end": 8080}}}


class PolicyServer(CountingHTTPServer):
    """The CC's internal policies endpoint; `status` is its answer."""

    def __init__(self) -> None:
        self.status = 200
        super().__init__(self._answer)

    def _answer(self, path: str, n: int) -> tuple[int, Any]:
        return self.status, ({"policies": [POLICY]} if self.status == 200
                             else {"error": "database unavailable"})


@pytest.fixture
def server() -> Iterator[PolicyServer]:
    with PolicyServer() as s:
        yield s


def agent(url: str) -> PolicyAgent:
    return PolicyAgent(url, bbs=None, cell_ip="10.0.0.2", containers=list,
                       apply=lambda cid, rules: None)


def test_every_poll_of_a_cell_rides_one_kept_connection(server: PolicyServer) -> None:
    a = agent(server.url + "/")
    for _ in range(5):
        assert a.fetch_policies({"app-b", "app-a"}) == [POLICY]
    assert server.connections == 1
    assert server.paths == ["/networking/v1/internal/policies?id=app-a,app-b"] * 5


def test_an_error_answer_is_a_value_error_naming_the_server_and_status(
        server: PolicyServer) -> None:
    server.status = 503
    with pytest.raises(ValueError, match=rf"^policy server {server.url} answered 503: .*database"):
        agent(server.url).fetch_policies({"app-a"})


def test_no_server_is_an_os_error() -> None:
    with PolicyServer() as s:
        url = s.url
    with pytest.raises(OSError):
        agent(url).fetch_policies({"app-a"})
