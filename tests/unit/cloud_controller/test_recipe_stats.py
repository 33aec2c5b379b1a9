import json

import pytest

from foundry.cloud_controller import recipe, stats

APP = {"guid": "app-guid", "name": "hello", "memory": 256, "disk_quota": 1024, "instances": 2,
       "command": None, "detected_start_command": "", "bits_sha256": "ab" * 32,
       "version_guid": "v1", "environment_json": {"FOO": "bar"}, "state": "STARTED"}
SPACE = {"guid": "space-guid", "name": "dev", "organization_guid": "org-guid"}
ORG = {"guid": "org-guid", "name": "cflab-org"}


def build(app=APP, uris=("hello.apps.internal",), bindings=(), **kw):
    return recipe.build_desired_lrp(app, SPACE, ORG, list(uris), list(bindings),
                                    internal_url="http://cloud-controller:9023",
                                    cf_api="https://api.sys", **kw)


def env(lrp):
    return {e["name"]: e["value"] for e in lrp["env"]}


def test_recipe_core_fields():
    lrp = build()
    assert lrp["process_guid"] == "app-guid-v1"
    assert lrp["domain"] == "cf-apps" and lrp["instances"] == 2
    assert lrp["ports"] == [8080, 2222]
    assert lrp["log_guid"] == "app-guid"
    assert lrp["metric_tags"] == {"app_id": "app-guid", "app_name": "hello"}
    assert lrp["start_timeout_ms"] == 60000 and lrp["memory_mb"] == 256 and lrp["disk_mb"] == 1024
    assert lrp["setup"]["download"]["from"] == (
        "http://cloud-controller:9023/internal/v1/bits/app-guid/" + "ab" * 32 + ".tgz")
    assert lrp["setup"]["download"]["to"] == "/home/vcap/app"
    assert lrp["action"]["run"] == {"path": "/tmp/lifecycle/launcher",
                                    "args": ["/home/vcap/app", "python3 app.py", ""],
                                    "user": "vcap"}


def test_ou_order_is_org_space_app():
    assert build()["certificate_properties"]["organizational_unit"] == [
        "organization:org-guid", "space:space-guid", "app:app-guid"]


def test_process_guid_changes_with_version():
    assert build({**APP, "version_guid": "v2"})["process_guid"] == "app-guid-v2"
    with pytest.raises(ValueError):
        build({**APP, "version_guid": None})


def test_routes_all_hostnames_one_entry():
    lrp = build(uris=["a.apps.internal", "b.apps.internal/v1"])
    assert lrp["routes"] == {"cf-router": [{"hostnames": ["a.apps.internal", "b.apps.internal/v1"],
                                            "port": 8080, "route_service_url": None,
                                            "protocol": "http1"}]}


def test_start_command_precedence():
    assert recipe.start_command({**APP, "command": "x", "detected_start_command": "y"}) == "x"
    assert recipe.start_command({**APP, "detected_start_command": "y"}) == "y"
    assert recipe.start_command(APP) == "python3 app.py"
    assert recipe.procfile_web_command("worker: w\nweb: gunicorn app\n") == "gunicorn app"
    assert recipe.procfile_web_command("worker: w\n") == ""


def test_env_vcap_application_and_services():
    binding = {"guid": "b1", "service_instance_guid": "si1", "name": "db", "label": "p-mysql",
               "plan": "small", "tags": ["sql"],
               "credentials": {"credhub-ref": "((/c/broker/p-mysql/b1/credentials))"}}
    e = env(build(bindings=[binding], credhub_url="https://credhub:8844"))
    assert e["PORT"] == "8080" and e["MEMORY_LIMIT"] == "256m" and e["FOO"] == "bar"
    assert e["LANG"] == "en_US.UTF-8"
    vcap = json.loads(e["VCAP_APPLICATION"])
    assert vcap["application_id"] == "app-guid" and vcap["application_name"] == "hello"
    assert vcap["application_uris"] == ["hello.apps.internal"]
    assert vcap["space_id"] == "space-guid" and vcap["organization_name"] == "cflab-org"
    assert vcap["limits"] == {"fds": 16384, "mem": 256, "disk": 1024}
    services = json.loads(e["VCAP_SERVICES"])
    assert services["p-mysql"][0]["credentials"] == binding["credentials"]
    assert services["p-mysql"][0]["name"] == "db"
    assert json.loads(e["VCAP_PLATFORM_OPTIONS"]) == {"credhub-uri": "https://credhub:8844"}
    assert json.loads(env(build())["VCAP_SERVICES"]) == {}
    assert "VCAP_PLATFORM_OPTIONS" not in env(build())


def lrp(index, state="RUNNING", host_port=61000, tls_port=61001):
    return {"process_guid": "app-guid-v1", "index": index, "state": state, "address": "10.0.0.5",
            "instance_guid": f"ig-{index}", "cell_id": "cell-1", "since": 1_700_000_000 * 10**9,
            "instance_address": "10.255.1.5", "crash_count": 0, "crash_reason": "",
            "ports": [{"container_port": 8080, "host_port": host_port,
                       "container_tls_proxy_port": 61001, "host_tls_proxy_port": tls_port}]}


@pytest.mark.parametrize("mode,expected", [("before-envoy", 61000), ("after-envoy", 61000),
                                           ("strict", 0)])
def test_v2_stats_port_per_mode(mode, expected):
    out = stats.v2_stats(APP, ["hello.apps.internal"], [lrp(0)], mode, now=1_700_000_100)
    assert set(out) == {"0", "1"}
    s = out["0"]
    assert s["state"] == "RUNNING"
    assert s["stats"]["port"] == expected and s["stats"]["host"] == "10.0.0.5"
    assert s["stats"]["uptime"] == 100 and s["stats"]["uris"] == ["hello.apps.internal"]
    assert s["stats"]["name"] == "hello" and s["stats"]["mem_quota"] == 256 * 1024 * 1024
    assert out["1"]["state"] == "DOWN" and "stats" not in out["1"]


def test_strict_real_cell_reports_host_port_zero():
    out = stats.v2_stats(APP, [], [lrp(0, host_port=0)], "after-envoy")
    assert out["0"]["stats"]["port"] == 0


def test_v2_states_translated():
    out = stats.v2_stats(APP, [], [lrp(0, "UNCLAIMED"), lrp(1, "CRASHED")], "strict")
    assert out["0"]["state"] == "STARTING" and out["1"]["state"] == "CRASHED"


def test_v3_stats_instance_ports():
    [r0, r1] = stats.v3_stats(APP, [lrp(0)], "strict", now=1_700_000_010)["resources"]
    assert r0["instance_guid"] == "ig-0" and r0["cell_id"] == "cell-1"
    assert r0["instance_ports"] == [{"external": 0, "internal": 8080,
                                     "external_tls_proxy_port": 61001,
                                     "internal_tls_proxy_port": 61001}]
    assert r0["uptime"] == 10 and r0["since"] == "2023-11-14T22:13:20Z"
    assert r1["state"] == "DOWN" and r1["instance_ports"] == []
    [b0, _] = stats.v3_stats(APP, [lrp(0)], "before-envoy")["resources"]
    assert b0["instance_ports"][0]["external"] == 61000
