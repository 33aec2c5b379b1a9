"""The one BBS client against the real BBS process: what every caller relies on."""

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
