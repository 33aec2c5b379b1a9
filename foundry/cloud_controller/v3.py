"""The v3 list endpoints CF clients walk (cloudfoundry-client's `v3.organizations`, ...).

Presenters only: the rows come from the same tables the v2 API reads; the shapes are
CAPI v3's (guid, timestamps, name, relationships, metadata, links).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from foundry.cloud_controller.errors import CCError

if TYPE_CHECKING:
    from foundry.cloud_controller.api import API, Request, Response


def _base(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"guid": row["guid"], "created_at": row.get("created_at"),
            "updated_at": row.get("updated_at", row.get("created_at")),
            "metadata": {"labels": {}, "annotations": {}},
            "links": {"self": {"href": f"/v3/{kind}/{row['guid']}"}}}


def organization(o: dict[str, Any]) -> dict[str, Any]:
    return {**_base("organizations", o), "name": o["name"], "suspended": False,
            "relationships": {"quota": {"data": None}}}


def space(s: dict[str, Any]) -> dict[str, Any]:
    return {**_base("spaces", s), "name": s["name"],
            "relationships": {"organization": {"data": {"guid": s["organization_guid"]}},
                              "quota": {"data": None}}}


def domain(d: dict[str, Any]) -> dict[str, Any]:
    return {**_base("domains", d), "name": d["name"], "internal": False, "router_group": None,
            "supported_protocols": ["http"],
            "relationships": {"organization": {"data": None},
                              "shared_organizations": {"data": []}}}


def credential_binding(b: dict[str, Any]) -> dict[str, Any]:
    return {**_base("service_credential_bindings", b), "name": None, "type": "app",
            "last_operation": {"type": "create", "state": "succeeded", "description": "",
                               "created_at": b.get("created_at"),
                               "updated_at": b.get("created_at")},
            "relationships": {"app": {"data": {"guid": b["app_guid"]}},
                              "service_instance": {"data": {"guid":
                                                            b["service_instance_guid"]}}}}


def register(api: API) -> None:
    from foundry.cloud_controller.api import Response, _v3_page

    def names(req: Request) -> list[str] | None:
        raw = req.filters().get("names")
        return raw.split(",") if raw else None

    def lister(kind: str, table: str, present: Any, order: str = "name"):
        def handle(req: Request, m: re.Match[str]) -> Response:
            rows = api.cc.db.all(f"SELECT * FROM {table} ORDER BY {order}")  # noqa: S608
            wanted = names(req) if order == "name" else None
            rows = [r for r in rows if wanted is None or r["name"] in wanted]
            return Response(200, _v3_page(f"/v3/{kind}", [present(r) for r in rows]))
        return handle

    def one(get: Any, present: Any):
        return lambda req, m: Response(200, present(get(m["guid"])))

    def app_env(req: Request, m: re.Match[str]) -> Response:
        env = api.cc.env(m["guid"])
        return Response(200, {"staging_env_json": env["staging_env_json"],
                              "running_env_json": env["running_env_json"],
                              "environment_variables": env["environment_json"],
                              "system_env_json": env["system_env_json"],
                              "application_env_json": env["application_env_json"]})

    def binding(guid: str) -> dict[str, Any]:
        row = api.cc.db.one("SELECT * FROM service_bindings WHERE guid = ?", guid)
        if row is None:
            raise CCError("ServiceBindingNotFound", guid)
        return row

    g = r"(?P<guid>[^/]+)"
    api._add("GET", r"/v3/organizations", lister("organizations", "organizations",
                                                  organization))
    api._add("GET", rf"/v3/organizations/{g}", one(api.cc.org, organization))
    api._add("GET", r"/v3/spaces", lister("spaces", "spaces", space))
    api._add("GET", rf"/v3/spaces/{g}", one(api.cc.space, space))
    api._add("GET", r"/v3/domains", lister("domains", "domains", domain))
    api._add("GET", rf"/v3/domains/{g}", one(api.cc.domain, domain))
    api._add("GET", rf"/v3/apps/{g}/env", app_env)
    api._add("GET", r"/v3/service_credential_bindings",
             lister("service_credential_bindings", "service_bindings", credential_binding,
                    order="created_at"))
    api._add("GET", rf"/v3/service_credential_bindings/{g}", one(binding, credential_binding))
