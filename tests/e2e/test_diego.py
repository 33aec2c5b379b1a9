"""Diego on a real engine: a desired LRP created through the BBS runs on a cell, with
DNAT, instance identity, the proxy, rotation and crash restarts."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import testinfra
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.e2e.helpers import bbs, identity_lrp, inside, through_router, wait_for

pytestmark = pytest.mark.e2e
HOST = "diego-e2e.apps.internal"
PG = "e2e-diego-pg"
APP = "e2e-diego-app-guid"


def running(cfg, pg=PG):
    lrps = bbs(cfg, "GET", f"/v1/actual_lrps?process_guid={pg}")
    return [lrp for lrp in lrps if lrp["state"] == "RUNNING"]


def answer(cfg, host=HOST):
    status, _, body = through_router(cfg, host)
    return json.loads(body) if status == 200 else None


@pytest.fixture(scope="module")
def lrp(foundation, cfg):
    started = time.monotonic()
    bbs(cfg, "POST", "/v1/desired_lrps", identity_lrp(PG, APP, HOST, "diego-e2e"))
    actual = wait_for(lambda: running(cfg), 90, what="the instance to be RUNNING")[0]
    me = wait_for(lambda: answer(cfg), 60, what="a 200 through the router")
    print(f"desired LRP -> first 200 through the router: {time.monotonic() - started:.1f}s")
    return actual, me


def app_host(actual):
    return testinfra.get_host(f"docker://{actual['instance_guid']}")


def cell_host(foundation, actual):
    return testinfra.get_host(f"docker://{foundation.job_states()[actual['cell_id']]['container']}")


def test_router_reaches_the_instance_it_registered(lrp):
    actual, me = lrp
    assert me["instance_guid"] == actual["instance_guid"]
    assert me["app_guid"] == APP
    assert me["cell_ip"] == actual["address"]
    assert len(actual["instance_guid"]) == 28


def test_cf_instance_ports_match_the_actual_lrp(lrp):
    actual, me = lrp
    expected = [{"external": p["host_port"], "internal": p["container_port"],
                 "external_tls_proxy": p["host_tls_proxy_port"],
                 "internal_tls_proxy": p["container_tls_proxy_port"]} for p in actual["ports"]]
    assert me["instance_ports"] == expected
    assert [p["container_tls_proxy_port"] for p in actual["ports"]] == [61001, 61002]


def test_proxy_app_and_sshd_listen_like_a_diego_container(lrp):
    host = app_host(lrp[0])
    listening = host.check_output("netstat -ltn")
    for addr in ("0.0.0.0:61001", "0.0.0.0:61002", "127.0.0.1:61004", "0.0.0.0:8080",
                 "0.0.0.0:2222"):
        assert addr in listening, listening
    ps = host.check_output("ps -eo args")
    assert "/etc/cf-assets/envoy/envoy -c /etc/cf-assets/envoy_config/envoy.yaml" in ps
    assert "trap 'kill -9 0' TERM" in ps
    assert host.check_output("curl -s 127.0.0.1:61004/ready").strip() == "LIVE"


def test_garden_init_is_pid_1_and_reaps_orphans(lrp):
    """No Docker init (it wakes every second): garden-init reaps what is orphaned to it."""
    host = app_host(lrp[0])
    assert "/etc/cf-assets/garden-init" in host.check_output("ps -o args= -p 1")
    host.check_output("sh -c '(sleep 0.3 &); (sleep 0.3 &); exit 0'")  # two orphans

    def no_zombies() -> bool:
        states = host.check_output("ps -eo stat=,args=")
        return "sleep 0.3" not in states and not any(
            line.strip().startswith("Z") for line in states.splitlines())
    wait_for(no_zombies, 10, what="the orphaned sleeps to end and be reaped")


def test_credentials_are_in_place_with_their_modes(lrp):
    actual, _ = lrp
    host = app_host(actual)
    key = host.file("/etc/cf-instance-credentials/instance.key")
    assert key.mode == 0o600
    assert host.file("/etc/cf-instance-credentials/instance.crt").mode == 0o644
    pem = host.file("/etc/cf-instance-credentials/instance.crt").content
    leaf, intermediate = x509.load_pem_x509_certificates(pem)
    guid = actual["instance_guid"]
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == guid
    ous = [a.value for a in leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    # one multi-valued RDN, its OUs in DER order (a SET OF, as Go >= 1.15 sorts it)
    assert sorted(ous) == sorted(["organization:e2e-org", "space:e2e-space", f"app:{APP}"])
    assert len(leaf.subject.rdns) == 2 and len(leaf.subject.rdns[0]) == 3
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [guid]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [actual["instance_address"]]
    assert intermediate.subject.rfc4514_string() == "CN=instanceIdentityCA"
    # No CA key of any kind in the app container.
    found = host.run("grep -rl 'BEGIN RSA PRIVATE KEY' /etc /home /opt /tmp /var 2>/dev/null").stdout.split()
    assert sorted(found) == ["/etc/cf-assets/envoy_config/listeners.yaml",
                             "/etc/cf-instance-credentials/instance.key"]


def test_cell_has_a_dnat_rule_per_mapping(foundation, lrp):
    actual, _ = lrp
    rules = cell_host(foundation, actual).check_output("iptables -t nat -nL CFLAB-DNAT")
    ip = actual["instance_address"]
    for p in actual["ports"]:
        assert f"dpt:{p['host_port']} " in rules and f"to:{ip}:{p['container_port']}" in rules
        assert f"dpt:{p['host_tls_proxy_port']} " in rules
        assert f"to:{ip}:{p['container_tls_proxy_port']}" in rules


def test_cfdot_on_the_cell_prints_bbs_lines(foundation, lrp):
    actual, _ = lrp
    out = cell_host(foundation, actual).check_output(
        f"cfdot actual-lrps -p {PG}")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(x["instance_guid"], x["state"]) for x in lines] == [(actual["instance_guid"], "RUNNING")]


def test_certificate_rotates_before_expiry_while_requests_succeed(cfg, lrp):
    actual, me = lrp
    first = me["certificate"]["serial"]
    statuses: list[int] = []

    def rotated():
        status, _, body = through_router(cfg, HOST)
        statuses.append(status)
        return status == 200 and json.loads(body)["certificate"]["serial"] != first

    validity = cfg.timings["instance_identity_validity_period"]
    wait_for(rotated, validity + 30, interval=0.2, what="a rotated certificate")
    assert statuses and set(statuses) == {200}, statuses
    host = app_host(actual)

    def proxy_serials() -> set[str]:
        certs = host.check_output("curl -s 127.0.0.1:61004/certs")
        return {c["serial_number"].lower().lstrip("0")
                for entry in json.loads(certs)["certificates"] for c in entry["cert_chain"]}

    # The app reads the certificate file itself; the proxy polls it every 0.3 s, so it
    # may still serve the old one for a moment after the app reports the new serial.
    wait_for(lambda: first.lower().lstrip("0") not in proxy_serials(), 10, interval=0.2,
             what="the proxy to serve the rotated certificate")


def test_killing_the_app_restarts_it_with_a_new_instance_guid(foundation, cfg, lrp):
    old = running(cfg)[0]["instance_guid"]
    # Anchored: testinfra runs it under `sh -c`, whose own command line holds the pattern.
    inside(old).check_output("pkill -f %s", "^python3 app.py")
    new = wait_for(lambda: [x for x in running(cfg) if x["instance_guid"] != old], 90,
                   what="a restarted instance")[0]
    assert new["crash_count"] >= 1
    wait_for(lambda: (answer(cfg) or {}).get("instance_guid") == new["instance_guid"], 60,
             what="the router to reach the new instance")
    gone = subprocess.run(["docker", "inspect", old], capture_output=True)
    assert gone.returncode != 0

