"""`cf add-network-policy` / `network-policies` / `remove-network-policy` against the
policy server routes on the CC, and the internal list the cells' agents poll."""

from __future__ import annotations

from cc_harness import http


def push(cf, tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    (d / "app.py").write_text("print('hi')\n")
    r = cf("push", name, "-p", str(d), "--no-start")
    assert r.returncode == 0, r.stdout + r.stderr


def guid(foundation, name):
    return foundation.cc_get(f"/v2/apps?q=name:{name}")[1]["resources"][0]["metadata"]["guid"]


def test_add_list_and_remove_a_policy(foundation, cf, tmp_path):
    push(cf, tmp_path, "web")
    push(cf, tmp_path, "api")
    web, api = guid(foundation, "web"), guid(foundation, "api")
    r = cf("network-policies")
    assert r.returncode == 0 and "No policies found." in r.stdout, r.stdout + r.stderr

    r = cf("add-network-policy", "web", "api", "--port", "8080", "--protocol", "tcp")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [
        "Adding network policy from app web to app api in org cflab-org / space dev as admin...",
        "OK"]
    r = cf("add-network-policy", "api", "--destination-app", "web", "--port", "9000-9002")
    assert r.returncode == 0, r.stdout + r.stderr  # cf v6's form; protocol defaults to tcp

    r = cf("network-policies")
    lines = r.stdout.splitlines()
    assert lines[2].split() == ["source", "destination", "protocol", "ports", "destination",
                                "space", "destination", "org"]
    assert [x.split() for x in lines[3:]] == [["api", "web", "tcp", "9000-9002", "dev", "cflab-org"],
                                              ["web", "api", "tcp", "8080", "dev", "cflab-org"]]
    r = cf("network-policies", "--source", "web")
    assert [x.split()[:2] for x in r.stdout.splitlines()[3:]] == [["web", "api"]]

    # what a cell's policy agent reads, without a token, on the internal port
    status, body = http("GET", f"{foundation.internal}/networking/v1/internal/policies?id={api}")
    assert status == 200 and body["total_policies"] == 2
    assert {"source": {"id": web}, "destination": {
        "id": api, "protocol": "tcp", "ports": {"start": 8080, "end": 8080}}} in body["policies"]

    r = cf("remove-network-policy", "web", "api", "--port", "8080", "--protocol", "tcp")
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "OK", r.stdout + r.stderr
    r = cf("remove-network-policy", "web", "api", "--port", "8080", "--protocol", "tcp")
    assert "Policy does not exist." in r.stdout and r.returncode == 0
    r = cf("network-policies")
    assert [x.split()[:2] for x in r.stdout.splitlines()[3:]] == [["api", "web"]]


def test_bad_input_gets_a_clear_error(foundation, cf, tmp_path):
    push(cf, tmp_path, "web")
    r = cf("add-network-policy", "web", "nope")
    assert r.returncode == 1 and "App 'nope' not found." in r.stderr
    r = cf("add-network-policy", "web", "web", "--port", "0-70000")
    assert r.returncode == 1 and "port must be a number or a range" in r.stderr
    r = cf("add-network-policy", "web", "web", "--protocol", "icmp")
    assert r.returncode == 1 and "Incorrect Usage" in r.stderr
    r = cf("remove-network-policy", "web", "web")
    assert r.returncode == 1 and "Incorrect Usage" in r.stderr  # --port/--protocol required
    # the API itself refuses a bad body with the policy server's shape
    status, body = http("POST", foundation.api + "/networking/v1/external/policies",
                        {"policies": [{"source": {"id": "a"}}]}, ctx=foundation.ssl,
                        token=foundation.token)
    assert status == 400 and body == {"error": "policies-create: missing destination id"}
    status, _ = http("GET", foundation.api + "/networking/v1/external/policies",
                     ctx=foundation.ssl)
    assert status == 401
    status, root = http("GET", foundation.api + "/", ctx=foundation.ssl)
    assert root["links"]["network_policy_v1"]["href"] == foundation.api + "/networking/v1/external"
