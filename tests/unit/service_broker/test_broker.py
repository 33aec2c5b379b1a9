from __future__ import annotations

import base64
import json

import pytest

from foundry.service_broker.broker import PLAN_ID, SERVICE_ID, Broker, catalog


class FakeCredHub:
    def __init__(self) -> None:
        self.data: dict[str, dict] = {}
        self.grants: dict[str, tuple[str, str, list[str]]] = {}

    def put_json(self, name, value):
        self.data[name] = value
        return {"name": name, "type": "json"}

    def delete(self, name):
        return self.data.pop(name, None) is not None

    def grant(self, path, actor, operations):
        uid = f"p{len(self.grants)}"
        self.grants[uid] = (path, actor, operations)
        return {"uuid": uid, "path": path, "actor": actor, "operations": operations}

    def find_permission(self, path, actor):
        return next(({"uuid": u} for u, g in self.grants.items() if g[:2] == (path, actor)), None)

    def revoke(self, uid):
        return self.grants.pop(uid, None) is not None


AUTH = {"Authorization": "Basic " + base64.b64encode(b"u:p").decode(),
        "X-Broker-API-Version": "2.15"}


@pytest.fixture
def broker():
    ch = FakeCredHub()
    return Broker(":memory:", ch, "u", "p", "cflab-broker"), ch


def call(b, method, path, body=None, headers=AUTH, query=None):
    return b.handle(method, path, query or {}, json.dumps(body).encode() if body else b"",
                    headers)


def test_auth_and_version(broker):
    b, _ = broker
    assert call(b, "GET", "/v2/catalog", headers={})[0] == 401
    assert call(b, "GET", "/v2/catalog", headers={**AUTH, "Authorization": "Basic eDp5"})[0] == 401
    assert call(b, "GET", "/v2/catalog", headers={"Authorization": AUTH["Authorization"]})[0] == 412
    st, cat = call(b, "GET", "/v2/catalog")
    assert st == 200 and cat == catalog()
    svc = cat["services"][0]
    assert svc["name"] == "cflab-db" and svc["plans"][0]["name"] == "small" and svc["bindable"]


def test_lifecycle(broker):
    b, ch = broker
    prov = {"service_id": SERVICE_ID, "plan_id": PLAN_ID, "organization_guid": "o",
            "space_guid": "s"}
    assert call(b, "PUT", "/v2/service_instances/i1", prov) == (201, {})
    assert call(b, "PUT", "/v2/service_instances/i1", prov) == (200, {})
    assert call(b, "PUT", "/v2/service_instances/i2", {**prov, "plan_id": "nope"})[0] == 400
    bind = {"service_id": SERVICE_ID, "plan_id": PLAN_ID, "bind_resource": {"app_guid": "A"}}
    st, body = call(b, "PUT", "/v2/service_instances/i1/service_bindings/b1", bind)
    name = f"/c/cflab-broker/{SERVICE_ID}/b1/credentials"
    assert (st, body) == (201, {"credentials": {"credhub-ref": f"(({name}))"}})
    assert set(ch.data[name]) >= {"uri", "username", "password"}
    assert ch.data[name]["password"] not in json.dumps(body)
    assert list(ch.grants.values()) == [(name, "mtls-app:A", ["read"])]
    assert call(b, "PUT", "/v2/service_instances/i1/service_bindings/b1", bind)[0] == 200
    assert call(b, "PUT", "/v2/service_instances/i1/service_bindings/b2",
                {"service_id": SERVICE_ID, "plan_id": PLAN_ID})[0] == 422
    assert call(b, "DELETE", "/v2/service_instances/i1")[0] == 422  # still bound
    assert call(b, "DELETE", "/v2/service_instances/i1/service_bindings/b1") == (200, {})
    assert ch.data == {} and ch.grants == {}
    assert call(b, "DELETE", "/v2/service_instances/i1/service_bindings/b1") == (410, {})
    assert call(b, "DELETE", "/v2/service_instances/i1") == (200, {})
    assert call(b, "DELETE", "/v2/service_instances/i1") == (410, {})
