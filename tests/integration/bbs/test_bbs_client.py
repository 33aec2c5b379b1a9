"""The one BBS client against the real BBS process: what every caller relies on."""

import threading

import pytest
from test_bbs_http import DESIRED, claim_and_start

from foundry.bbs.client import BBSClient, BBSError, BBSUnavailable
from tests.support import CountingHTTPServer, free_port


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


def counting_bbs(drop_after: int = 0) -> CountingHTTPServer:
    """A stand-in BBS whose /v1/cells names the request's number: each call ran once."""
    return CountingHTTPServer(lambda path, n: (200, [{"cell_id": f"cell-{n}"}]), drop_after)


def test_calls_on_one_thread_share_one_kept_connection(bbs):
    with counting_bbs() as counting:
        client = BBSClient(counting.url, timeout=5)
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


def test_a_kept_connection_the_server_dropped_is_replaced_without_an_error():
    with counting_bbs(drop_after=2) as counting:
        client = BBSClient(counting.url, timeout=5)
        answers = [client.cells()[0]["cell_id"] for _ in range(6)]
        assert answers == [f"cell-{i}" for i in range(1, 7)]  # each request ran once
        assert counting.connections == 3


def test_each_thread_keeps_its_own_connection():
    with counting_bbs() as counting:
        client = BBSClient(counting.url, timeout=5)
        threads = [threading.Thread(target=lambda: [client.cells() for _ in range(5)])
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert counting.requests == 15 and counting.connections == 3
