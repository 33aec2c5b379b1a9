"""The same admin queries against real Envoy and cflab's proxy give the same shapes.

Both serve the rep's strict `sds` config for one instance and have carried one mTLS
request. A shape is a document with its values replaced by their types (lists by
the union of their items' shapes); listener addresses and ports are normalised.
What cflab's proxy answers differently on purpose is listed in the README.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.integration.envoy.twin import KINDS, Twin

# Stats cflab's proxy reports that Envoy has no counter for (listed in the README).
CFLAB_ONLY_STATS = {"server.total_connections_accepted", "server.config_unsupported_fields"}


@pytest.fixture(scope="module")
def answers(tmp_path_factory, pki, backend) -> dict[str, dict[str, tuple[int, str]]]:
    queries = ["/ready", "/certs", "/stats", "/stats?format=json", "/clusters",
               "/clusters?format=json", "/listeners", "/listeners?format=json", "/server_info"]
    out = {}
    for kind in KINDS:
        twin = Twin(kind, tmp_path_factory.mktemp(kind), pki, backend, strict=True)
        twin.write_all()
        twin.start()
        try:
            assert twin.serial(pki.router) == twin.cred.cert.serial_number
            out[kind] = {q: twin.get(q) for q in queries}
            out[kind]["guid"] = (0, twin.guid)
        finally:
            twin.stop()
    return out


def shape(value):
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        merged: dict = {}
        for item in value:
            s = shape(item)
            if not isinstance(s, dict):
                return [s]
            merged.update(s)
        return [dict(sorted(merged.items()))] if value else []
    return type(value).__name__


def normalise(text: str) -> str:
    text = re.sub(r"127\.0\.0\.1[:_]\d+", "ADDR", text)
    return re.sub(r"(\"port_value\": )\d+", r"\g<1>0", text)


def both(answers, query: str) -> tuple[str, str]:
    (c1, cflab), (c2, envoy) = answers["cflab"][query], answers["envoy"][query]
    assert c1 == c2 == 200, (query, c1, c2)
    return normalise(cflab), normalise(envoy)


def test_ready(answers):
    assert both(answers, "/ready") == ("LIVE\n", "LIVE\n")


def test_certs(answers):
    cflab, envoy = (json.loads(t) for t in both(answers, "/certs"))
    assert shape(cflab) == shape(envoy)
    for doc in (cflab, envoy):
        (context,) = doc["certificates"]
        assert len(context["cert_chain"]) == 1  # the leaf, not its intermediate
        assert len(context["ca_cert"]) == 1     # the router's CA (strict)
    assert '"\\u003cinline\\u003e"' in answers["cflab"]["/certs"][1]  # protobuf's escapes


def test_stats_cflab_reports_are_envoys_names(answers):
    cflab, envoy = both(answers, "/stats?format=json")
    ours = {s["name"] for s in json.loads(cflab)["stats"] if "name" in s}
    theirs = {s["name"] for s in json.loads(envoy)["stats"] if "name" in s}
    assert ours - theirs <= CFLAB_ONLY_STATS, sorted(ours - theirs)
    for name in ("listener.ADDR.ssl.handshake", "listener.ADDR.downstream_cx_total",
                 "cluster.0-service-cluster.upstream_cx_total", "sds.id-cert-and-key.update_success"):
        assert name in ours and name in theirs
    text_cflab, text_envoy = both(answers, "/stats")
    line = re.compile(r"^[\w.:-]+: ")
    for text in (text_cflab, text_envoy):
        assert all(line.match(row) for row in text.splitlines() if row), text[:500]


def test_clusters(answers):
    cflab, envoy = both(answers, "/clusters")
    keys = [{row.rsplit("::", 1)[0] for row in text.splitlines()} for text in (cflab, envoy)]
    assert keys[0] == keys[1], keys[0] ^ keys[1]
    cflab, envoy = (json.loads(t) for t in both(answers, "/clusters?format=json"))
    assert shape(cflab) == shape(envoy)
    names = [{s["name"] for c in doc["cluster_statuses"] for h in c["host_statuses"]
              for s in h["stats"]} for doc in (cflab, envoy)]
    assert names[0] == names[1]


def test_listeners(answers):
    cflab, envoy = both(answers, "/listeners")
    assert re.sub(r"\d+", "N", cflab) == re.sub(r"\d+", "N", envoy)
    cflab, envoy = (json.loads(t) for t in both(answers, "/listeners?format=json"))
    assert cflab == envoy


def test_server_info(answers):
    cflab, envoy = (json.loads(t) for t in both(answers, "/server_info"))
    assert set(cflab) == set(envoy)
    assert set(cflab["node"]) <= set(envoy["node"])
    ours, theirs = cflab["command_line_options"], envoy["command_line_options"]
    assert set(ours) <= set(theirs), set(ours) - set(theirs)
    for key in ours:
        assert type(ours[key]) is type(theirs[key]), key
    for key in ("service_cluster", "drain_time", "parent_shutdown_time", "mode",
                "concurrency", "drain_strategy", "restart_epoch"):
        assert ours[key] == theirs[key], key
    for doc, kind in ((cflab, "cflab"), (envoy, "envoy")):
        node = f"sidecar~127.0.0.1~{answers[kind]['guid'][1]}~x"
        assert doc["node"]["id"] == doc["command_line_options"]["service_node"] == node
        assert doc["node"]["cluster"] == "proxy-cluster" and doc["state"] == "LIVE"
