"""CC operations and API routing against an in-memory SQLite and a fake BBS."""

import io
import json
import tarfile

import pytest

from foundry.cloud_controller.api import API, Request
from foundry.cloud_controller.bits import BitsStore, inspect
from foundry.cloud_controller.config import CCConfig, ConfigError
from foundry.cloud_controller.db import DB
from foundry.cloud_controller.errors import CCError
from foundry.cloud_controller.service import CloudController


class FakeBBS:
    def __init__(self):
        self.desired = {}
        self.fail = None

    def _check(self):
        if self.fail:
            raise CCError("RunnerUnavailable", "down")

    def desire(self, lrp):
        self._check()
        self.desired[lrp["process_guid"]] = lrp

    def update_desired(self, pg, changes):
        self._check()
        self.desired[pg].update(changes)

    def remove_desired(self, pg):
        self._check()
        self.desired.pop(pg, None)

    def actual_lrps(self, **query):
        return []


def tgz(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def env(tmp_path):
    cfg = CCConfig(db_path=":memory:", bits_dir=str(tmp_path / "bits"), max_bits_bytes=10_000,
                   internal_url="http://cc:9023")
    bbs = FakeBBS()
    cc = CloudController(cfg, DB(":memory:"), bbs, BitsStore(cfg.bits_dir))
    return cc, API(cc), bbs


def call(api, method, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    resp = api.handle(Request.from_target(method, path, data))
    return resp.status, resp.body


def space_guid(api):
    return call(api, "GET", "/v2/spaces?q=name:dev")[1]["resources"][0]["metadata"]["guid"]


def new_app(api, name="a", **kw):
    status, body = call(api, "POST", "/v2/apps", {"name": name, "space_guid": space_guid(api), **kw})
    assert status == 201, body
    return body["metadata"]["guid"]


def test_seeded_org_space_domain(env):
    _, api, _ = env
    assert call(api, "GET", "/v2/organizations")[1]["resources"][0]["entity"]["name"] == "cflab-org"
    assert call(api, "GET", "/v2/shared_domains")[1]["resources"][0]["entity"]["name"] == \
        "apps.internal"


def test_start_requires_bits_and_leaves_nothing(env):
    _, api, bbs = env
    guid = new_app(api)
    status, body = call(api, "PUT", f"/v2/apps/{guid}", {"state": "STARTED"})
    assert status == 400 and body["error_code"] == "CF-AppPackageInvalid"
    assert bbs.desired == {}
    assert call(api, "GET", f"/v2/apps/{guid}")[1]["entity"]["state"] == "STOPPED"


def test_start_scale_stop_lifecycle(env):
    cc, api, bbs = env
    guid = new_app(api, instances=1)
    assert call(api, "PUT", f"/v2/apps/{guid}/bits",
                raw=tgz({"app.py": b"x", "Procfile": b"web: run-me\n"}))[0] == 201
    assert call(api, "PUT", f"/v2/apps/{guid}", {"state": "STARTED"})[0] == 201
    [pg] = bbs.desired
    assert bbs.desired[pg]["action"]["run"]["args"][1] == "run-me"
    call(api, "PUT", f"/v2/apps/{guid}", {"instances": 4})
    assert bbs.desired[pg]["instances"] == 4
    status, body = call(api, "PUT", f"/v2/apps/{guid}", {"instances": -1})
    assert status == 400 and body["error_code"] == "CF-AppInvalid"
    call(api, "POST", f"/v2/apps/{guid}/restage")
    [pg2] = bbs.desired
    assert pg2 != pg
    call(api, "PUT", f"/v2/apps/{guid}", {"state": "STOPPED"})
    assert bbs.desired == {}


def test_bbs_down_keeps_records(env):
    _, api, bbs = env
    guid = new_app(api)
    call(api, "PUT", f"/v2/apps/{guid}/bits", raw=tgz({"app.py": b"x"}))
    bbs.fail = True
    status, body = call(api, "PUT", f"/v2/apps/{guid}", {"state": "STARTED"})
    assert status == 503 and body["error_code"] == "CF-RunnerUnavailable"
    assert call(api, "GET", f"/v2/apps/{guid}")[1]["entity"]["state"] == "STOPPED"


def test_routes_patch_running_lrp(env):
    _, api, bbs = env
    guid = new_app(api)
    call(api, "PUT", f"/v2/apps/{guid}/bits", raw=tgz({"app.py": b"x"}))
    call(api, "PUT", f"/v2/apps/{guid}", {"state": "STARTED"})
    domain = call(api, "GET", "/v2/shared_domains")[1]["resources"][0]["metadata"]["guid"]
    status, route = call(api, "POST", "/v2/routes", {"host": "Web", "domain_guid": domain,
                                                     "space_guid": space_guid(api)})
    assert status == 201 and route["entity"]["host"] == "web"
    rg = route["metadata"]["guid"]
    status, body = call(api, "POST", "/v2/routes", {"host": "web", "domain_guid": domain,
                                                    "space_guid": space_guid(api)})
    assert status == 400 and body["error_code"] == "CF-RouteHostTaken"
    assert call(api, "PUT", f"/v2/apps/{guid}/routes/{rg}")[0] == 201
    [lrp] = bbs.desired.values()
    assert lrp["routes"]["cf-router"][0]["hostnames"] == ["web.apps.internal"]
    assert call(api, "DELETE", f"/v2/apps/{guid}/routes/{rg}")[0] == 204
    assert lrp["routes"]["cf-router"][0]["hostnames"] == []
    status, body = call(api, "DELETE", f"/v2/apps/{guid}/routes/{rg}")
    assert status == 404 and body["error_code"] == "CF-RouteMappingNotFound"


@pytest.mark.parametrize("body,code", [
    ({"name": ""}, "CF-AppInvalid"),
    ({"name": "x/y"}, "CF-AppInvalid"),
    ({"name": "ok", "instances": "3"}, "CF-AppInvalid"),
    ({"name": "ok", "state": "STARTED"}, "CF-AppInvalid"),
])
def test_create_app_validation(env, body, code):
    _, api, _ = env
    status, out = call(api, "POST", "/v2/apps", {"space_guid": space_guid(api), **body})
    assert status == 400 and out["error_code"] == code


def test_errors_shapes(env):
    _, api, _ = env
    status, body = call(api, "GET", "/v2/apps/nope")
    assert status == 404 and body == {"code": 100004, "error_code": "CF-AppNotFound",
                                      "description": "The app could not be found: nope"}
    status, body = call(api, "GET", "/v3/apps/nope")
    assert status == 404 and body["errors"][0]["code"] == 100004
    assert call(api, "GET", "/v2/nothing")[0] == 404
    status, body = call(api, "POST", "/v2/apps", raw=b"{not json")
    assert status == 400 and body["error_code"] == "CF-MessageParseError"
    status, body = call(api, "POST", "/v2/apps", {"name": "a", "space_guid": "nope"})
    assert status == 404 and body["error_code"] == "CF-SpaceNotFound"


def test_name_clash(env):
    _, api, _ = env
    new_app(api, "dup")
    status, body = call(api, "POST", "/v2/apps", {"name": "dup", "space_guid": space_guid(api)})
    assert status == 400 and body["error_code"] == "CF-AppNameTaken"


def test_bits_validation():
    with pytest.raises(CCError) as e:
        inspect(b"x" * 20, 10)
    assert e.value.status == 413
    with pytest.raises(CCError) as e:
        inspect(b"garbage", 100)
    assert e.value.name == "AppBitsUploadInvalid"
    with pytest.raises(CCError):
        inspect(tgz({"../evil": b"x"}), 10_000)
    assert inspect(tgz({"./Procfile": b"web: go\n"}), 10_000).detected_start_command == "go"


def test_services_and_bindings_in_env(env):
    cc, api, _ = env
    guid = new_app(api)
    status, si = call(api, "POST", "/v2/service_instances", {
        "name": "db", "space_guid": space_guid(api), "label": "p-mysql", "plan": "small",
        "credentials": {"credhub-ref": "((/c/b/p-mysql/x/credentials))"}})
    assert status == 201
    status, b = call(api, "POST", "/v2/service_bindings", {
        "app_guid": guid, "service_instance_guid": si["metadata"]["guid"]})
    assert status == 201
    env_ = call(api, "GET", f"/v2/apps/{guid}/env")[1]
    assert env_["system_env_json"]["VCAP_SERVICES"]["p-mysql"][0]["credentials"] == {
        "credhub-ref": "((/c/b/p-mysql/x/credentials))"}
    status, body = call(api, "POST", "/v2/service_bindings", {
        "app_guid": guid, "service_instance_guid": si["metadata"]["guid"]})
    assert status == 400 and body["error_code"] == "CF-ServiceBindingAppServiceTaken"


def test_config_validation():
    assert CCConfig.from_dict({"mode": "after-envoy", "extra": 1}).mode == "after-envoy"
    with pytest.raises(ConfigError):
        CCConfig.from_dict({"mode": "bogus"})
    with pytest.raises(ConfigError):
        CCConfig.from_dict({"listen_address": "nope"})
    assert CCConfig().max_bits_bytes == 50 * 1024 * 1024


def test_v3_lists_and_discovery_links(env):
    cc, api, _ = env
    orgs = call(api, "GET", "/v3/organizations")[1]["resources"]
    assert [o["name"] for o in orgs] == ["cflab-org"] and orgs[0]["suspended"] is False
    spaces = call(api, "GET", "/v3/spaces?names=dev")[1]["resources"]
    assert spaces[0]["relationships"]["organization"]["data"]["guid"] == orgs[0]["guid"]
    assert call(api, "GET", "/v3/spaces?names=nope")[1]["resources"] == []
    assert call(api, "GET", "/v3/domains")[1]["resources"][0]["supported_protocols"] == ["http"]
    assert call(api, "GET", "/v3/service_credential_bindings")[1]["resources"] == []
    guid = new_app(api)
    env_v3 = call(api, "GET", f"/v3/apps/{guid}/env")[1]
    assert "VCAP_APPLICATION" in env_v3["application_env_json"]
    assert env_v3["environment_variables"] == {}
    assert call(api, "GET", "/v3/apps/nope/env")[0] == 404
    root = call(api, "GET", "/")[1]["links"]
    assert root["self"]["href"] == "https://api.sys.cflab.internal" and root["uaa"] is None
    assert call(api, "GET", "/v3")[1]["links"]["apps"]["href"].endswith("/v3/apps")
