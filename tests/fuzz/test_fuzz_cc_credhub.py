"""The Cloud Controller's and CredHub's JSON request bodies under fuzzed input.

Properties: every body, valid or mutated, gets a CF-shaped answer below 500 (a 500 is
the server catching a bug); the response encodes; the component keeps serving (a plain
read answers 200 after each fuzzed write); nothing takes long.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from foundry.cloud_controller.api import API
from foundry.cloud_controller.api import Request as CCRequest
from foundry.cloud_controller.bits import BitsStore
from foundry.cloud_controller.config import CCConfig
from foundry.cloud_controller.db import DB
from foundry.cloud_controller.service import CloudController
from foundry.credhub.api import CredHubAPI
from foundry.credhub.api import Request as CHRequest
from foundry.credhub.auth import Actor
from foundry.credhub.store import Store
from tests.fuzz.fuzzlib import corpus, timed

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=False), st.text(max_size=12),
                         st.sampled_from(["", "/", "//", "((/c/x))", "STARTED", "STOPPED",
                                          "\ud800", "a/b", " x", "x\n", "*", "/*", "read"]))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)


def mutate(base: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """A valid body with fields replaced, dropped or added; or any JSON; or any bytes."""
    keys = sorted(base) or ["name"]
    edited = st.tuples(st.dictionaries(st.sampled_from(keys), json_values, max_size=3),
                       st.lists(st.sampled_from(keys), max_size=2)).map(
        lambda t: json.dumps({k: v for k, v in {**base, **t[0]}.items() if k not in t[1]}))
    return st.one_of(edited.map(str.encode), json_values.map(lambda v: json.dumps(v).encode()),
                     st.binary(max_size=40),
                     st.sampled_from([b"[" * 100_000, b'{"a":' * 50_000, b"\xff\xfe",
                                      b'{"name": "\\ud800"}', b"NaN", b"1e999", b"{}" * 3]))


class FakeBBS:
    def __init__(self) -> None:
        self.desired: dict[str, dict] = {}

    def desire(self, lrp: dict) -> None:
        self.desired[lrp["process_guid"]] = lrp

    def update(self, pg: str, changes: dict) -> None:
        self.desired.setdefault(pg, {}).update(changes)

    def remove(self, pg: str) -> None:
        self.desired.pop(pg, None)

    def actual(self, pg: str) -> list:
        return []


class CC:
    """One CC on an in-memory SQLite, shared by every example (state accumulates: more
    to trip over)."""

    def __init__(self, tmp: str) -> None:
        cfg = CCConfig(db_path=":memory:", bits_dir=tmp, internal_url="http://cc:9023")
        self.api = API(CloudController(cfg, DB(":memory:"), FakeBBS(), BitsStore(tmp)))
        self.space = self.get("/v2/spaces")["resources"][0]["metadata"]["guid"]
        self.domain = self.get("/v2/shared_domains")["resources"][0]["metadata"]["guid"]
        app = self.call("POST", "/v2/apps", json.dumps(
            {"name": "seed", "space_guid": self.space}).encode())
        self.app = app.body["metadata"]["guid"]
        si = self.call("POST", "/v2/service_instances", json.dumps(
            {"name": "seed-si", "space_guid": self.space, "credentials": {"a": 1}}).encode())
        self.si = si.body["metadata"]["guid"]

    def call(self, method: str, target: str, body: bytes = b""):
        resp = timed(self.api.handle, CCRequest.from_target(method, target, body))
        resp.encoded()
        return resp

    def get(self, target: str) -> Any:
        resp = self.call("GET", target)
        assert resp.status == 200, resp.body
        return resp.body


@pytest.fixture(scope="module")
def cc(tmp_path_factory) -> CC:
    return CC(str(tmp_path_factory.mktemp("bits")))


CC_WRITES = {
    "create_app": ("POST", "/v2/apps", lambda c: {"name": "a", "space_guid": c.space,
                                                  "instances": 2, "memory": 64,
                                                  "environment_json": {"K": "v"}}),
    "update_app": ("PUT", "/v2/apps/{app}", lambda c: {"instances": 3, "state": "STOPPED",
                                                       "name": "seed", "command": "x"}),
    "create_route": ("POST", "/v2/routes", lambda c: {"host": "h", "path": "/p",
                                                      "domain_guid": c.domain,
                                                      "space_guid": c.space}),
    "create_si": ("POST", "/v2/service_instances",
                  lambda c: {"name": "s", "space_guid": c.space, "credentials": {"u": "p"},
                             "tags": ["t"]}),
    "bind": ("POST", "/v2/service_bindings", lambda c: {"app_guid": c.app,
                                                        "service_instance_guid": c.si}),
    "restage": ("POST", "/v2/apps/{app}/restage", lambda c: {}),
}


@pytest.mark.parametrize("endpoint", sorted(CC_WRITES))
def test_cc_json_bodies_answer_below_500_and_cc_keeps_serving(cc: CC, endpoint: str) -> None:
    method, target, base = CC_WRITES[endpoint]

    @given(mutate(base(cc)))
    @example(b'{"name": "\\ud800", "space_guid": "x"}')
    @example(b"[" * 100_000)
    def run(body: bytes) -> None:
        resp = cc.call(method, target.format(app=cc.app), body)
        assert resp.status < 500, (resp.status, resp.body)
        assert cc.get("/v2/apps")["total_results"] >= 1

    run()


# -- CredHub ------------------------------------------------------------------------
ACTOR = Actor("uaa-client:service-broker", "client")


class CH:
    def __init__(self) -> None:
        self.api = CredHubAPI(Store(":memory:"), frozenset({ACTOR.name}))
        assert self.call("PUT", "/api/v1/data", json.dumps(
            {"name": "/c/seed", "type": "json", "value": {"k": "v"}}).encode()).status == 200

    def call(self, method: str, target: str, body: bytes = b""):
        resp = timed(self.api.handle, CHRequest.from_target(method, target, body), ACTOR)
        resp.encoded()
        return resp


@pytest.fixture(scope="module")
def ch() -> CH:
    return CH()


CH_WRITES = {
    "set": ("PUT", "/api/v1/data", {"name": "/c/x", "type": "json", "value": {"a": 1}}),
    "interpolate": ("POST", "/api/v1/interpolate", {"p-svc": [
        {"credentials": {"credhub-ref": "((/c/seed))"}, "name": "i"}]}),
    "add_permission": ("POST", "/api/v2/permissions", {"path": "/c/*", "actor": "mtls-app:x",
                                                       "operations": ["read"]}),
}


@pytest.mark.parametrize("endpoint", sorted(CH_WRITES))
def test_credhub_json_bodies_answer_below_500_and_credhub_keeps_serving(
        ch: CH, endpoint: str) -> None:
    method, target, base = CH_WRITES[endpoint]

    @given(mutate(base))
    @example(b'{"name": "/c/\\ud800", "type": "value", "value": "v"}')
    @example(b"[" * 100_000)
    def run(body: bytes) -> None:
        resp = ch.call(method, target, body)
        assert resp.status < 500, (resp.status, resp.body)
        assert ch.call("GET", "/api/v1/data?name=/c/seed").status == 200

    run()


@pytest.mark.parametrize("data", corpus("json_bodies"))
def test_json_body_corpus(cc: CC, ch: CH, data: bytes) -> None:
    for method, target, _ in CC_WRITES.values():
        assert cc.call(method, target.format(app=cc.app), data).status < 500
    for method, target, _ in CH_WRITES.values():
        assert ch.call(method, target, data).status < 500
