from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from cryptography.hazmat.primitives import serialization

from foundry.credhub import permissions as perms
from foundry.credhub.api import RESOURCE_NOT_FOUND, CredHubAPI, Request
from foundry.credhub.auth import Actor, Authenticator, AuthError, app_actor_from_ous
from foundry.credhub.store import Store
from foundry.pki import (
    app_organizational_units,
    issue_instance_identity,
    issue_leaf,
    new_ca,
    new_instance_guid,
)

DER = serialization.Encoding.DER
NOW = dt.datetime.now(dt.UTC)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def pki():
    root = new_ca("appRootCA")
    inter = new_ca("instanceIdentityCA", issuer=root)
    svc = new_ca("serviceCA")
    return root, inter, svc


def chain(cred) -> list[bytes]:
    return [cred.cert.public_bytes(DER)] + [c.public_bytes(DER) for c in cred.issuers]


def instance(inter, app_guid, **kw):
    return issue_instance_identity(inter, new_instance_guid(),
                                   app_organizational_units(str(uuid.uuid4()),
                                                            str(uuid.uuid4()), app_guid),
                                   "10.0.0.1", **kw)


def auth(pki) -> Authenticator:
    root, _, svc = pki
    return Authenticator((root.cert,), (svc.cert,), (("service-broker",
                                                       "uaa-client:service-broker"),))


def test_ou_parsing():
    g = str(uuid.uuid4())
    assert app_actor_from_ous(["organization:o", "space:s", f"app:{g}"]) == f"mtls-app:{g}"
    assert app_actor_from_ous(["app:not-a-uuid"]) is None
    assert app_actor_from_ous([]) is None
    assert app_actor_from_ous([f"app:{g}", f"app:{uuid.uuid4()}"]) is None
    assert app_actor_from_ous(["app:" + str(uuid.uuid1())]) is None  # v4 only


def test_instance_actor_is_app_guid_for_every_instance(pki):
    g = str(uuid.uuid4())
    a1 = auth(pki).authenticate(chain(instance(pki[1], g)), now())
    a2 = auth(pki).authenticate(chain(instance(pki[1], g)), now())
    assert a1.name == a2.name == f"mtls-app:{g}" and a1.is_app


def test_broker_actor_by_cn(pki):
    b = issue_leaf(pki[2], "service-broker", client_auth=True)
    assert auth(pki).authenticate(chain(b), now()).name == "uaa-client:service-broker"
    other = issue_leaf(pki[2], "someone", client_auth=True)
    with pytest.raises(AuthError, match="valid identity"):
        auth(pki).authenticate(chain(other), now())


@pytest.mark.parametrize("case", ["none", "expired", "not_yet", "no_client_auth", "untrusted",
                                  "no_intermediate"])
def test_rejections(pki, case):
    g = str(uuid.uuid4())
    a = auth(pki)
    if case == "none":
        der: list[bytes] = []
    elif case == "expired":
        der = chain(instance(pki[1], g, now=NOW - dt.timedelta(days=2),
                             validity=dt.timedelta(hours=1)))
    elif case == "not_yet":
        der = chain(instance(pki[1], g, now=NOW + dt.timedelta(days=2)))
    elif case == "no_client_auth":
        der = chain(issue_leaf(pki[1], "x", org_units=[f"app:{g}"], client_auth=False))
    elif case == "untrusted":
        der = chain(instance(new_ca("i", issuer=new_ca("r")), g))
    else:
        der = chain(instance(pki[1], g))[:1]
    with pytest.raises(AuthError):
        a.authenticate(der, now())


def test_permission_paths():
    grants = [{"actor": "a", "path": "/c/*", "operations": ["read"]},
              {"actor": "b", "path": "/c/x", "operations": ["read", "write"]}]
    assert perms.allowed(grants, "a", "/c/anything", "read")
    assert not perms.allowed(grants, "a", "/c/anything", "write")
    assert perms.allowed(grants, "b", "/c/x", "write")
    assert not perms.allowed(grants, "b", "/c/xy", "read")
    assert perms.validate_operations(["read", "bogus"]) is None
    assert perms.validate_operations(["write_acl", "read"]) == ["read", "write_acl"]


@pytest.fixture
def api():
    return CredHubAPI(Store(":memory:"), frozenset({"uaa-client:broker"}))


BROKER = Actor("uaa-client:broker", "client")
APP_A = Actor(f"mtls-app:{uuid.uuid4()}", "app")
APP_B = Actor(f"mtls-app:{uuid.uuid4()}", "app")


def call(api, actor, method, target, body=None):
    r = api.handle(Request.from_target(method, target, json.dumps(body).encode()
                                       if body is not None else b""), actor)
    return r.status, r.body


def test_creator_gets_all_others_need_grant(api):
    assert call(api, BROKER, "PUT", "/api/v1/data",
                {"name": "/c/b/s/1/credentials", "type": "json", "value": {"p": "x"}})[0] == 200
    assert call(api, APP_A, "GET", "/api/v1/data?name=/c/b/s/1/credentials")[0] == 403
    # apps may not create without a write grant
    assert call(api, APP_A, "PUT", "/api/v1/data",
                {"name": "/mine", "type": "value", "value": "v"})[0] == 403
    st, p = call(api, BROKER, "POST", "/api/v2/permissions",
                 {"path": "/c/b/s/1/credentials", "actor": APP_A.name, "operations": ["read"]})
    assert st == 201 and p["operations"] == ["read"]
    assert call(api, BROKER, "POST", "/api/v2/permissions",
                {"path": "/c/b/s/1/credentials", "actor": APP_A.name,
                 "operations": ["read"]})[0] == 409
    assert call(api, APP_A, "GET", "/api/v1/data?name=/c/b/s/1/credentials")[0] == 200
    # A may read but not write, delete, or grant
    assert call(api, APP_A, "PUT", "/api/v1/data", {"name": "/c/b/s/1/credentials",
                                                    "type": "json", "value": {}})[0] == 403
    assert call(api, APP_A, "DELETE", "/api/v1/data?name=/c/b/s/1/credentials")[0] == 403
    assert call(api, APP_A, "POST", "/api/v2/permissions",
                {"path": "/c/b/s/1/credentials", "actor": APP_B.name,
                 "operations": ["read"]})[0] == 403
    st, found = call(api, BROKER, "GET",
                     f"/api/v2/permissions?path=/c/b/s/1/credentials&actor={APP_A.name}")
    assert st == 200 and found["uuid"] == p["uuid"]
    assert call(api, BROKER, "DELETE", f"/api/v2/permissions/{p['uuid']}")[0] == 200
    assert call(api, APP_A, "GET", "/api/v1/data?name=/c/b/s/1/credentials")[0] == 403


def test_versions_and_by_id(api):
    for v in ("one", "two", "three"):
        call(api, BROKER, "PUT", "/api/v1/data", {"name": "pw", "type": "password", "value": v})
    st, body = call(api, BROKER, "GET", "/api/v1/data?name=/pw")
    assert [d["value"] for d in body["data"]] == ["three", "two", "one"]
    assert body["data"][0]["name"] == "/pw"
    st, body = call(api, BROKER, "GET", "/api/v1/data?name=/pw&versions=2")
    assert len(body["data"]) == 2
    st, body = call(api, BROKER, "GET", "/api/v1/data?name=/pw&current=true")
    assert len(body["data"]) == 1
    st, one = call(api, BROKER, "GET", f"/api/v1/data/{body['data'][0]['id']}")
    assert st == 200 and one["value"] == "three"
    assert call(api, BROKER, "PUT", "/api/v1/data",
                {"name": "pw", "type": "json", "value": {}})[0] == 400
    assert call(api, BROKER, "PUT", "/api/v1/data", {"name": "x", "type": "ssh"})[0] == 400
    assert call(api, BROKER, "DELETE", "/api/v1/data?name=/pw")[0] == 204
    assert call(api, BROKER, "GET", "/api/v1/data?name=/pw") == (404,
                                                                 {"error": RESOURCE_NOT_FOUND})


def test_interpolation(api):
    call(api, BROKER, "PUT", "/api/v1/data",
         {"name": "/c/b/s/1/credentials", "type": "json", "value": {"password": "pw"}})
    call(api, BROKER, "PUT", "/api/v1/data", {"name": "/plain", "type": "value", "value": "v"})
    for name in ("/c/b/s/1/credentials", "/plain"):
        call(api, BROKER, "POST", "/api/v2/permissions",
             {"path": name, "actor": APP_A.name, "operations": ["read"]})
    services = {"db": [{"name": "d", "credentials": {"credhub-ref": "((/c/b/s/1/credentials))"}},
                       {"name": "u", "credentials": {"plain": 1}}],
                "other": [{"name": "o", "credentials": {"credhub_ref": "((/c/b/s/1/credentials))"}}]}
    st, out = call(api, APP_A, "POST", "/api/v1/interpolate", services)
    assert st == 200
    assert out["db"][0]["credentials"] == {"password": "pw"}
    assert out["db"][1]["credentials"] == {"plain": 1}
    assert out["other"][0]["credentials"] == {"password": "pw"}
    assert call(api, APP_B, "POST", "/api/v1/interpolate", services)[0] == 403
    bad = {"db": [{"credentials": {"credhub-ref": "/c/b/s/1/credentials"}}]}
    assert call(api, APP_A, "POST", "/api/v1/interpolate", bad)[0] == 400
    typed = {"db": [{"credentials": {"credhub-ref": "((/plain))"}}]}
    assert call(api, APP_A, "POST", "/api/v1/interpolate", typed)[0] == 400
    missing = {"db": [{"credentials": {"credhub-ref": "((/nope))"}}]}
    assert call(api, APP_A, "POST", "/api/v1/interpolate", missing)[0] == 404
    assert call(api, APP_A, "POST", "/api/v1/interpolate", [1])[0] == 400
    assert call(api, None, "GET", "/health") == (200, {"status": "UP"})
