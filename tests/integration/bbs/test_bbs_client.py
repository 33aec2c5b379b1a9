"""The one BBS client against the real BBS process: what every caller relies on."""

import http.server
import json
import threading

import pytest
from test_bbs_http import DESIRED, claim_and_start

from foundry.bbs.client import BBSClient, BBSError, BBSUnavailable
from tests.support import free_port


def test_client_round_trip(bbs):
    client = BBSClient(bbs.url, timeout=5, tls=bbs.ctx)
    client.heartbeat("cell-1", "http://cell-1:1800", "z1", 10)
    assert [c["cell_id"] for c in client.cells()] == ["cell-1"]
    client.desire(DESIRED)
    assert client.desired_lrp("pg-app-v1")["instances"] == 1
    assert client.desired_lrp("no-such-pg") is None  # a 404 the caller asked to accept
    assert [d["process_guid"] for d in client.desired_lrps("cf-apps")] == ["pg-app-v1"]
    assert client.desired_lrps("other-domain") == []
    version = client.wait_for_change(-1, 0.1)
    claim_and_start(bbs, "ig-1")
    assert client.wait_for_change(version, 5) > version  # the start was a change
    assert [lrp["instance_guid"] for lrp in client.actual_lrps(cell_id="cell-1")] == ["ig-1"]
    assert client.actual_lrps(process_guid="pg-app-v1", index=1) == []
    assert client.work("cell-1")["to_start"] == []  # its one instance is running
    client.update_desired("pg-app-v1", {"instances": 2})
    assert client.desired_lrp("pg-app-v1")["instances"] == 2
    client.remove_desired("pg-app-v1")
    client.remove_desired("pg-app-v1")  # idempotent
    assert client.desired_lrps() == []


def test_client_errors_name_the_status_and_the_bbs_message(bbs):
    client = BBSClient(bbs.url, timeout=5, tls=bbs.ctx)
    client.desire(DESIRED)
    with pytest.raises(BBSError) as err:
        client.desire(DESIRED)
    assert (err.value.status, err.value.method, err.value.path) == (
        409, "POST", "/v1/desired_lrps")
    assert err.value.message and "pg-app-v1" in err.value.message
    with pytest.raises(BBSError) as err:
        client.actual_lrps(index=-1)
    assert err.value.status == 400 and err.value.message.startswith("index:")


def test_an_unreachable_bbs_is_an_os_error_callers_retry_on():
    with pytest.raises(BBSUnavailable, match="cannot reach the BBS at http://127.0.0.1:") as err:
        BBSClient(f"http://127.0.0.1:{free_port()}", timeout=2).cells()
    assert isinstance(err.value, OSError)


class CountingBBS(http.server.ThreadingHTTPServer):
    """A stand-in BBS on loopback that counts connections and, with `drop_after`, closes
    a kept connection silently after that many answers, as a server with an idle timeout
    does between two of the client's requests."""

    def __init__(self, drop_after: int = 0) -> None:
        self.connections, self.requests, self.drop_after = 0, 0, drop_after
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                server.connections += 1
                self.served = 0

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.requests += 1
                body = json.dumps([{"cell_id": f"cell-{server.requests}"}]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.served += 1
                if server.drop_after and self.served >= server.drop_after:
                    self.close_connection = True  # no Connection: close header: a silent drop

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_calls_on_one_thread_share_one_kept_connection(bbs):
    counting = CountingBBS()
    try:
        client = BBSClient(f"http://127.0.0.1:{counting.server_address[1]}", timeout=5)
        answers = [client.cells()[0]["cell_id"] for _ in range(20)]
        assert answers == [f"cell-{i}" for i in range(1, 21)]
        assert counting.connections == 1
        # and against the real BBS with mutual TLS: one handshake for many calls
        tls_client = BBSClient(bbs.url, timeout=5, tls=bbs.ctx)
        tls_client.cells()
        sock = tls_client._conn._local.conn.sock  # noqa: SLF001 - the kept connection itself
        for _ in range(5):
            tls_client.cells()
        assert tls_client._conn._local.conn.sock is sock  # noqa: SLF001
    finally:
        counting.shutdown()
        counting.server_close()


def test_a_kept_connection_the_server_dropped_is_replaced_without_an_error():
    counting = CountingBBS(drop_after=2)
    try:
        client = BBSClient(f"http://127.0.0.1:{counting.server_address[1]}", timeout=5)
        answers = [client.cells()[0]["cell_id"] for _ in range(6)]
        assert answers == [f"cell-{i}" for i in range(1, 7)]  # each request ran once
        assert counting.connections == 3
    finally:
        counting.shutdown()
        counting.server_close()


def test_each_thread_keeps_its_own_connection():
    counting = CountingBBS()
    try:
        client = BBSClient(f"http://127.0.0.1:{counting.server_address[1]}", timeout=5)
        threads = [threading.Thread(target=lambda: [client.cells() for _ in range(5)])
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert counting.requests == 15 and counting.connections == 3
    finally:
        counting.shutdown()
        counting.server_close()
