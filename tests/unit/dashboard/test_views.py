"""Rows built from the BBS's answers and the router registry's table."""

import json

from foundry.dashboard import views
from foundry.dashboard.config import ConfigError, from_dict

DESIRED = [{"process_guid": "pg-a", "log_guid": "app-a",
            "env": [{"name": "VCAP_APPLICATION",
                     "value": json.dumps({"application_id": "app-a",
                                          "application_name": "hello"})}]},
           {"process_guid": "pg-b", "log_guid": "app-b", "env": []}]
ACTUAL = [
    {"process_guid": "pg-a", "index": 0, "instance_guid": "inst-a0", "cell_id": "cell-1",
     "address": "10.244.0.5", "instance_address": "10.255.1.2", "state": "RUNNING",
     "since": 1_700_000_000_500_000_000,
     "ports": [{"container_port": 8080, "host_port": 61000, "container_tls_proxy_port": 61001,
                "host_tls_proxy_port": 61002}]},
    {"process_guid": "pg-b", "index": 0, "instance_guid": "inst-b0", "cell_id": "cell-2",
     "address": "10.244.0.6", "instance_address": "10.255.2.2", "state": "CRASHED",
     "ports": [{"container_port": 8080, "host_port": 61000}]},
    {"process_guid": "pg-b", "index": 1, "instance_guid": "", "cell_id": "", "state": "UNCLAIMED",
     "ports": []},
]


def rows():
    return views.container_rows(ACTUAL, views.apps_by_process(DESIRED))


def test_containers_name_the_app_and_show_the_dnat_targets():
    r = rows()
    assert set(r) == {"pg-a/0", "pg-b/0"}  # the unclaimed instance has no container
    a = r["pg-a/0"]
    assert (a["app"], a["app_guid"], a["cell"], a["container_ip"]) == (
        "hello", "app-a", "cell-1", "10.255.1.2")
    assert a["host_ports"] == [61000, 61002]
    assert a["dnat"] == ["10.244.0.5:61000 → 10.255.1.2:8080",
                         "10.244.0.5:61002 → 10.255.1.2:61001 (TLS)"]
    assert r["pg-b/0"]["app"] == "app-b"  # no VCAP_APPLICATION: the guid


def test_port_owners_and_tls_targets_only_count_live_instances():
    r = rows()
    owners = views.port_owners(r)
    assert [(a, since) for a, since, _ in owners] == [
        ("10.244.0.5:61000", 1_700_000_000.5), ("10.244.0.5:61002", 1_700_000_000.5)]
    assert owners[1][2].app_name == "hello"
    assert views.tls_targets(r) == {"inst-a0": "10.244.0.5:61002"}


def test_cells_include_configured_cells_without_presence():
    cells = views.cell_rows([{"cell_id": "cell-1", "zone": "z1"}], ["cell-1", "cell-2"], rows())
    assert cells["cell-1"] == {"present": True, "zone": "z1", "rep_address": "", "containers": 1}
    assert cells["cell-2"]["present"] is False and cells["cell-2"]["containers"] == 1


def test_route_rows_from_the_registry_table():
    table = {"hello.apps.internal": [
        {"address": "10.244.0.5:61002", "tls": True, "ttl": 120, "app_id": "app-a",
         "private_instance_id": "inst-a0", "server_cert_domain_san": "inst-a0",
         "updated_at": 1000.12345}]}
    r = views.route_rows(table, {"app-a": "hello"})
    assert r == {"hello.apps.internal": {"endpoints": [
        {"address": "10.244.0.5:61002", "tls": True, "san": "inst-a0", "ttl": 120,
         "instance_id": "inst-a0", "app": "hello", "last_refresh": 1000.123}]}}


def test_config_errors_name_the_field():
    import pytest

    with pytest.raises(ConfigError, match="jobs.x.url"):
        from_dict({"jobs": [{"name": "x", "url": "ftp://a"}]})
    with pytest.raises(ConfigError, match="listen_address"):
        from_dict({"listen_address": "nope"})
    with pytest.raises(ConfigError, match="cells"):
        from_dict({"cells": "cell-1"})
    with pytest.raises(ConfigError, match="bbs_client_cert_file.*mutual TLS"):
        from_dict({"bbs_address": "https://bbs.service.cf.internal:8889"})
    cfg = from_dict({"cells": ["cell-1"], "droplet_stale_threshold": 20,
                     "bbs_address": "http://bbs:8889",
                     "jobs": [{"name": "bbs", "url": "http://bbs:8889/ping"}]})
    assert cfg.jobs[0].target == ("http", "bbs", 8889, "/ping")
    assert cfg.droplet_stale_threshold == 20.0
