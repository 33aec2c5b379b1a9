"""Request routing and CF-shaped presenters: (method, path, query, body) → Response.

No sockets here: the HTTP server hands in a parsed request and writes out what comes
back, so routing, validation and the JSON shapes are unit-testable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from foundry import httpapi
from foundry.cloud_controller import v3
from foundry.cloud_controller.errors import CCError
from foundry.cloud_controller.events import v2_event
from foundry.cloud_controller.logcache import MAX_READ, EnvelopeError
from foundry.cloud_controller.service import CloudController
from foundry.policy_server import api as policy_api

API_VERSION = "2.120.0"
API_VERSION_V3 = "3.85.0"


class Request(httpapi.Request):
    def json(self) -> dict[str, Any]:
        if not self.body.strip():
            return {}
        try:
            data = httpapi.parse_json(self.body)
        except ValueError as e:
            raise CCError("MessageParseError", str(e)[:200]) from None
        if not isinstance(data, dict):
            raise CCError("MessageParseError", "body must be a JSON object")
        return data

    def filters(self) -> dict[str, str]:
        """v2 ``q=name:foo`` (repeatable) and v3 ``names=foo`` filters."""
        out: dict[str, str] = {}
        for q in self.query.get("q", []):
            key, sep, value = q.partition(":")
            if sep:
                out[key] = value
        for key, values in self.query.items():
            if key != "q" and values:
                out[key] = values[-1]
        return out


@dataclass
class Response:
    status: int
    body: Any = None
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return (json.dumps(self.body, indent=2) + "\n").encode()


Handler = Callable[[Request, re.Match[str]], Response]


def _v2(resource: str, row: dict[str, Any], entity: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"guid": row["guid"], "url": f"/v2/{resource}/{row['guid']}",
                         "created_at": row.get("created_at"),
                         "updated_at": row.get("updated_at", row.get("created_at"))},
            "entity": entity}


def _page(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"total_results": len(resources), "total_pages": 1, "prev_url": None,
            "next_url": None, "resources": resources}


def _v3_page(path: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"pagination": {"total_results": len(resources), "total_pages": 1,
                           "first": {"href": path}, "last": {"href": path},
                           "next": None, "previous": None},
            "resources": resources}


class API:
    def __init__(self, cc: CloudController) -> None:
        self.cc = cc
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        g = r"(?P<guid>[^/]+)"
        add = self._add
        add("GET", r"/", self.root)
        add("GET", r"/v2/info", self.info)
        add("GET", r"/v3", self.v3_root)
        add("GET", r"/v2/organizations", self.list_orgs)
        add("GET", rf"/v2/organizations/{g}", lambda r, m: Response(200, self.org(
            self.cc.org(m["guid"]))))
        add("GET", r"/v2/spaces", self.list_spaces)
        add("GET", rf"/v2/spaces/{g}", lambda r, m: Response(200, self.space(
            self.cc.space(m["guid"]))))
        add("GET", rf"/v2/spaces/{g}/summary", self.space_summary)
        add("GET", r"/v2/apps", self.list_apps)
        add("POST", r"/v2/apps", self.create_app)
        add("GET", rf"/v2/apps/{g}", lambda r, m: Response(200, self.app(self.cc.app(m["guid"]))))
        add("PUT", rf"/v2/apps/{g}", self.update_app)
        add("DELETE", rf"/v2/apps/{g}", self.delete_app)
        add("PUT", rf"/v2/apps/{g}/bits", self.upload_bits)
        add("POST", rf"/v2/apps/{g}/restage", self.restage)
        add("GET", rf"/v2/apps/{g}/stats", lambda r, m: Response(200, self.cc.v2_stats(m["guid"])))
        add("GET", rf"/v2/apps/{g}/instances",
            lambda r, m: Response(200, self.cc.v2_instances(m["guid"])))
        add("DELETE", rf"/v2/apps/{g}/instances/(?P<index>[^/]+)", self.terminate_instance)
        add("GET", rf"/internal/apps/{g}/ssh_access/(?P<index>[^/]+)",
            lambda r, m: Response(200, self.cc.ssh_access(m["guid"], m["index"])))
        add("GET", rf"/v2/apps/{g}/summary", self.app_summary)
        add("GET", rf"/v2/apps/{g}/env", lambda r, m: Response(200, self.cc.env(m["guid"])))
        add("GET", rf"/v2/apps/{g}/routes", self.app_routes)
        add("PUT", rf"/v2/apps/{g}/routes/(?P<route>[^/]+)", self.map_route)
        add("DELETE", rf"/v2/apps/{g}/routes/(?P<route>[^/]+)", self.unmap_route)
        add("GET", rf"/v2/apps/{g}/service_bindings", self.app_bindings)
        add("GET", r"/v2/shared_domains", self.list_domains)
        add("GET", r"/v2/domains", self.list_domains)
        add("GET", rf"/v2/shared_domains/{g}", lambda r, m: Response(200, self.domain(
            self.cc.domain(m["guid"]))))
        add("GET", r"/v2/routes", self.list_routes)
        add("POST", r"/v2/routes", self.create_route)
        add("GET", rf"/v2/routes/{g}", lambda r, m: Response(200, self.route(
            self.cc.route(m["guid"]))))
        add("DELETE", rf"/v2/routes/{g}", self.delete_route)
        add("GET", rf"/v2/routes/{g}/apps", self.route_apps)
        add("GET", r"/v2/services", self.list_services)
        add("GET", rf"/v2/services/{g}/service_plans", self.list_plans)
        add("GET", r"/v2/service_plans", self.list_plans)
        add("GET", r"/v2/service_instances", self.list_service_instances)
        add("POST", r"/v2/service_instances", self.create_service_instance)
        add("DELETE", rf"/v2/service_instances/{g}", self.delete_service_instance)
        add("GET", r"/v2/service_bindings", self.list_bindings)
        add("POST", r"/v2/service_bindings", self.bind)
        add("DELETE", rf"/v2/service_bindings/{g}", self.unbind)
        add("GET", r"/v3/apps", self.v3_list_apps)
        add("GET", rf"/v3/apps/{g}", lambda r, m: Response(200, self.v3_app(
            self.cc.app(m["guid"]))))
        add("GET", rf"/v3/processes/{g}/stats",
            lambda r, m: Response(200, self.cc.v3_stats(m["guid"])))
        add("GET", rf"/v3/apps/{g}/processes/web/stats",
            lambda r, m: Response(200, self.cc.v3_stats(m["guid"])))
        add("GET", r"/v3/routes", self.v3_list_routes)
        add("GET", r"/v2/events", self.list_events)
        add("GET", rf"/v2/events/{g}", self.get_event)
        add("GET", rf"/api/v1/read/{g}", self.read_logs)
        # The internal port's routes (cells): see internal().
        self.internal_routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/internal/v1/envelopes/?$"), self.ingest_envelopes),
            ("POST", re.compile(r"/internal/v4/apps/(?P<pg>[^/]+)/crashed/?$"), self.crashed)]
        v3.register(self)
        self.policies = policy_api.register(self)

    def _add(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern + "/?$"), handler))

    def handle(self, req: Request) -> Response:
        v3 = req.path.startswith("/v3")
        try:
            path = unquote(req.path)
            allowed = False
            for method, pattern, handler in self.routes:
                m = pattern.match(path)
                if m:
                    allowed = True
                    if method == req.method:
                        return handler(req, m)
            if allowed:
                return Response(405, CCError("NotFound").v3() if v3 else CCError("NotFound").v2())
            raise CCError("NotFound")
        except CCError as e:
            return Response(e.status, e.v3() if v3 else e.v2())

    def internal(self, req: Request) -> Response | None:
        """A cell's report on the internal port; None when no internal route matches."""
        for method, pattern, handler in self.internal_routes:
            m = pattern.match(unquote(req.path))
            if m and method == req.method:
                try:
                    return handler(req, m)
                except CCError as e:
                    return Response(e.status, e.v2())
        return None

    # ---- presenters --------------------------------------------------------------------

    def org(self, o: dict[str, Any]) -> dict[str, Any]:
        return _v2("organizations", o, {"name": o["name"], "status": "active",
                                        "spaces_url": f"/v2/organizations/{o['guid']}/spaces"})

    def space(self, s: dict[str, Any]) -> dict[str, Any]:
        return _v2("spaces", s, {"name": s["name"], "organization_guid": s["organization_guid"],
                                 "apps_url": f"/v2/spaces/{s['guid']}/apps"})

    def domain(self, d: dict[str, Any]) -> dict[str, Any]:
        return _v2("shared_domains", d, {"name": d["name"], "internal": False,
                                         "router_group_guid": None, "router_group_type": None})

    def app(self, a: dict[str, Any]) -> dict[str, Any]:
        return _v2("apps", a, {
            "name": a["name"], "production": False, "space_guid": a["space_guid"],
            "stack_guid": "cflinuxfs3", "buildpack": None, "detected_buildpack": "python",
            "environment_json": a.get("environment_json") or {}, "memory": a["memory"],
            "instances": a["instances"], "disk_quota": a["disk_quota"], "state": a["state"],
            "version": a.get("version_guid"), "command": a.get("command"), "console": False,
            "debug": None, "staging_task_id": None,
            "package_state": "STAGED" if a.get("bits_sha256") else "PENDING",
            "health_check_type": "port", "health_check_timeout": None,
            "health_check_http_endpoint": None, "staging_failed_reason": None,
            "staging_failed_description": None, "diego": True, "docker_image": None,
            "package_updated_at": a.get("package_updated_at"),
            "detected_start_command": a.get("detected_start_command") or "",
            "enable_ssh": True, "ports": [8080],
            "space_url": f"/v2/spaces/{a['space_guid']}",
            "routes_url": f"/v2/apps/{a['guid']}/routes",
            "service_bindings_url": f"/v2/apps/{a['guid']}/service_bindings",
        })

    def route(self, r: dict[str, Any]) -> dict[str, Any]:
        return _v2("routes", r, {
            "host": r["host"], "path": r["path"], "domain_guid": r["domain_guid"],
            "space_guid": r["space_guid"], "service_instance_guid": None, "port": None,
            "domain_url": f"/v2/shared_domains/{r['domain_guid']}",
            "apps_url": f"/v2/routes/{r['guid']}/apps",
        })

    def route_summary(self, r: dict[str, Any]) -> dict[str, Any]:
        d = self.cc.domain(r["domain_guid"])
        return {"guid": r["guid"], "host": r["host"], "path": r["path"], "port": None,
                "domain": {"guid": d["guid"], "name": d["name"]}}

    def v3_app(self, a: dict[str, Any]) -> dict[str, Any]:
        return {"guid": a["guid"], "name": a["name"], "state": a["state"],
                "created_at": a["created_at"], "updated_at": a["updated_at"],
                "lifecycle": {"type": "buildpack", "data": {"buildpacks": [],
                                                            "stack": "cflinuxfs3"}},
                "relationships": {"space": {"data": {"guid": a["space_guid"]}}},
                "metadata": {"labels": {}, "annotations": {}},
                "links": {"self": {"href": f"/v3/apps/{a['guid']}"},
                          "processes": {"href": f"/v3/apps/{a['guid']}/processes"}}}

    # ---- handlers ----------------------------------------------------------------------

    def root(self, req: Request, m: re.Match[str]) -> Response:
        api, cfg = self.cc.external_api, self.cc.cfg
        uaa = cfg.uaa_url.rstrip("/") or None
        links: dict[str, Any] = {
            "self": {"href": api},
            "bits_service": None, "cloud_controller_v2": {"href": api + "/v2",
                                                          "meta": {"version": API_VERSION}},
            "cloud_controller_v3": {"href": api + "/v3", "meta": {"version": API_VERSION_V3}},
            "network_policy_v0": None,
            "network_policy_v1": {"href": api + policy_api.EXTERNAL},
            "login": {"href": uaa} if uaa else None, "uaa": {"href": uaa} if uaa else None,
            "credhub": None, "routing": None, "logging": None, "log_cache": None,
            "log_stream": None,
            "app_ssh": {"href": cfg.app_ssh_endpoint, "meta": {
                "host_key_fingerprint": cfg.app_ssh_host_key_fingerprint,
                "oauth_client": cfg.app_ssh_oauth_client}} if cfg.app_ssh_endpoint else None}
        return Response(200, {"links": links})

    def v3_root(self, req: Request, m: re.Match[str]) -> Response:
        api = self.cc.external_api + "/v3"
        return Response(200, {"links": {"self": {"href": api}, **{
            name: {"href": f"{api}/{name}"} for name in (
                "apps", "domains", "organizations", "processes", "routes", "spaces",
                "service_credential_bindings", "service_instances")}}})

    def info(self, req: Request, m: re.Match[str]) -> Response:
        cfg = self.cc.cfg
        uaa = cfg.uaa_url.rstrip("/") or None
        return Response(200, {
            "name": "cflab", "build": "", "support": "", "version": 0,
            "description": "cflab Cloud Controller",
            "authorization_endpoint": uaa, "token_endpoint": uaa, "min_cli_version": None,
            "min_recommended_cli_version": None, "api_version": API_VERSION,
            "app_ssh_endpoint": cfg.app_ssh_endpoint or None,
            "app_ssh_host_key_fingerprint": cfg.app_ssh_host_key_fingerprint or None,
            "app_ssh_oauth_client": cfg.app_ssh_oauth_client, "routing_endpoint": None,
            "doppler_logging_endpoint": None,
            "cflab": {"mode": cfg.mode, "apps_domain": cfg.apps_domain,
                      "system_domain": cfg.system_domain, "max_bits_bytes": cfg.max_bits_bytes},
        })

    def list_orgs(self, req: Request, m: re.Match[str]) -> Response:
        f = req.filters()
        rows = self.cc.db.all("SELECT * FROM organizations ORDER BY name")
        rows = [o for o in rows if "name" not in f or o["name"] == f["name"]]
        return Response(200, _page([self.org(o) for o in rows]))

    def list_spaces(self, req: Request, m: re.Match[str]) -> Response:
        f = req.filters()
        rows = self.cc.db.all("SELECT * FROM spaces ORDER BY name")
        rows = [s for s in rows if ("name" not in f or s["name"] == f["name"]) and (
            "organization_guid" not in f or s["organization_guid"] == f["organization_guid"])]
        return Response(200, _page([self.space(s) for s in rows]))

    def _apps(self, f: dict[str, str]) -> list[dict[str, Any]]:
        rows = self.cc.db.all("SELECT * FROM apps ORDER BY name")
        names = f.get("names", "").split(",") if f.get("names") else None
        return [a for a in rows
                if ("name" not in f or a["name"] == f["name"])
                and (names is None or a["name"] in names)
                and ("space_guid" not in f or a["space_guid"] == f["space_guid"])
                and ("space_guids" not in f or a["space_guid"] in f["space_guids"].split(","))]

    def list_apps(self, req: Request, m: re.Match[str]) -> Response:
        return Response(200, _page([self.app(a) for a in self._apps(req.filters())]))

    def v3_list_apps(self, req: Request, m: re.Match[str]) -> Response:
        return Response(200, _v3_page("/v3/apps", [self.v3_app(a)
                                                   for a in self._apps(req.filters())]))

    def create_app(self, req: Request, m: re.Match[str]) -> Response:
        return Response(201, self.app(self.cc.create_app(req.json())))

    def update_app(self, req: Request, m: re.Match[str]) -> Response:
        return Response(201, self.app(self.cc.update_app(m["guid"], req.json())))

    def restage(self, req: Request, m: re.Match[str]) -> Response:
        return Response(201, self.app(self.cc.restart(m["guid"])))

    def delete_app(self, req: Request, m: re.Match[str]) -> Response:
        self.cc.delete_app(m["guid"])
        return Response(204)

    def terminate_instance(self, req: Request, m: re.Match[str]) -> Response:
        self.cc.terminate_instance(m["guid"], m["index"])
        return Response(204)

    def upload_bits(self, req: Request, m: re.Match[str]) -> Response:
        return Response(201, self.app(self.cc.upload_bits(m["guid"], req.body)))

    def app_summary(self, req: Request, m: re.Match[str]) -> Response:
        a = self.cc.app(m["guid"])
        body = dict(self.app(a)["entity"])
        body.update(guid=a["guid"], routes=[self.route_summary(r)
                                            for r in self.cc.routes_of(a["guid"])],
                    running_instances=self.cc.running_instances(a)
                    if a["state"] == "STARTED" else 0,
                    services=[{"guid": b["service_instance_guid"], "name": b["name"]}
                              for b in self.cc.bindings_of(a["guid"])])
        return Response(200, body)

    def space_summary(self, req: Request, m: re.Match[str]) -> Response:
        s = self.cc.space(m["guid"])
        apps = []
        for a in self._apps({"space_guid": s["guid"]}):
            entity = dict(self.app(a)["entity"])
            entity.update(guid=a["guid"], urls=self.cc.uris(a["guid"]),
                          routes=[self.route_summary(r) for r in self.cc.routes_of(a["guid"])],
                          running_instances=self.cc.running_instances(a)
                          if a["state"] == "STARTED" else 0,
                          service_names=[b["name"] for b in self.cc.bindings_of(a["guid"])])
            apps.append(entity)
        services = [{"guid": si["guid"], "name": si["name"],
                     "service_plan": {"name": si["plan"], "service": {"label": si["label"]}}}
                    for si in self.cc.db.all("SELECT * FROM service_instances WHERE space_guid = ?"
                                             " ORDER BY name", s["guid"])]
        return Response(200, {"guid": s["guid"], "name": s["name"], "apps": apps,
                              "services": services})

    def app_routes(self, req: Request, m: re.Match[str]) -> Response:
        self.cc.app(m["guid"])
        return Response(200, _page([self.route(r) for r in self.cc.routes_of(m["guid"])]))

    def map_route(self, req: Request, m: re.Match[str]) -> Response:
        self.cc.map_route(m["guid"], m["route"])
        return Response(201, self.app(self.cc.app(m["guid"])))

    def unmap_route(self, req: Request, m: re.Match[str]) -> Response:
        self.cc.unmap_route(m["guid"], m["route"])
        return Response(204)

    def list_domains(self, req: Request, m: re.Match[str]) -> Response:
        f = req.filters()
        rows = self.cc.db.all("SELECT * FROM domains ORDER BY name")
        rows = [d for d in rows if "name" not in f or d["name"] == f["name"]]
        return Response(200, _page([self.domain(d) for d in rows]))

    def _routes(self, f: dict[str, str]) -> list[dict[str, Any]]:
        rows = self.cc.db.all("SELECT * FROM routes ORDER BY host, path")
        return [r for r in rows
                if all(r.get(k) == f[k] for k in ("host", "domain_guid", "path", "space_guid")
                       if k in f)]

    def list_routes(self, req: Request, m: re.Match[str]) -> Response:
        return Response(200, _page([self.route(r) for r in self._routes(req.filters())]))

    def v3_list_routes(self, req: Request, m: re.Match[str]) -> Response:
        out = []
        for r in self._routes({}):
            d = self.cc.domain(r["domain_guid"])
            out.append({"guid": r["guid"], "host": r["host"], "path": r["path"],
                        "url": self.cc.uri(r), "protocol": "http",
                        "created_at": r["created_at"], "updated_at": r["created_at"],
                        "destinations": [{"app": {"guid": a["guid"],
                                                  "process": {"type": "web"}}, "port": 8080}
                                         for a in self.cc.apps_of(r["guid"])],
                        "relationships": {"space": {"data": {"guid": r["space_guid"]}},
                                          "domain": {"data": {"guid": d["guid"]}}}})
        return Response(200, _v3_page("/v3/routes", out))

    def create_route(self, req: Request, m: re.Match[str]) -> Response:
        return Response(201, self.route(self.cc.create_route(req.json())))

    def delete_route(self, req: Request, m: re.Match[str]) -> Response:
        self.cc.delete_route(m["guid"])
        return Response(204)

    def route_apps(self, req: Request, m: re.Match[str]) -> Response:
        self.cc.route(m["guid"])
        return Response(200, _page([self.app(a) for a in self.cc.apps_of(m["guid"])]))

    def _service(self, svc: dict[str, Any]) -> dict[str, Any]:
        row = {"guid": svc["id"], "created_at": None}
        return _v2("services", row, {
            "label": svc["name"], "description": svc.get("description", ""), "active": True,
            "bindable": bool(svc.get("bindable", True)), "tags": svc.get("tags", []),
            "unique_id": svc["id"], "extra": json.dumps(svc.get("metadata") or {}),
            "service_broker_guid": "cflab-broker", "service_broker_name": "cflab-broker",
            "plan_updateable": bool(svc.get("plan_updateable", False)),
            "service_plans_url": f"/v2/services/{svc['id']}/service_plans"})

    def _plan(self, svc: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
        return _v2("service_plans", {"guid": plan["id"], "created_at": None}, {
            "name": plan["name"], "free": bool(plan.get("free", True)),
            "description": plan.get("description", ""), "service_guid": svc["id"],
            "unique_id": plan["id"], "public": True, "active": True,
            "bindable": bool(plan.get("bindable", svc.get("bindable", True))),
            "service_url": f"/v2/services/{svc['id']}"})

    def _catalog(self) -> list[dict[str, Any]]:
        if not self.cc.cfg.service_broker_url:
            return []
        return list(self.cc.broker.catalog().get("services", []))

    def list_services(self, req: Request, m: re.Match[str]) -> Response:
        f = req.filters()
        services = [s for s in self._catalog() if "label" not in f or s["name"] == f["label"]]
        return Response(200, _page([self._service(s) for s in services]))

    def list_plans(self, req: Request, m: re.Match[str]) -> Response:
        f = req.filters()
        only = m.groupdict().get("guid") or f.get("service_guid")
        plans = [self._plan(s, p) for s in self._catalog() if only in (None, s["id"])
                 for p in s.get("plans", [])]
        return Response(200, _page(plans))

    def _service_instance(self, si: dict[str, Any]) -> dict[str, Any]:
        return _v2("service_instances", si, {
            "name": si["name"], "space_guid": si["space_guid"], "type": "managed_service_instance"
            if si["label"] != "user-provided" else "user_provided_service_instance",
            "label": si["label"], "plan": si["plan"], "tags": si["tags"],
            "service_guid": si.get("service_guid"),
            "service_plan_guid": si.get("service_plan_guid")})

    def list_service_instances(self, req: Request, m: re.Match[str]) -> Response:
        f = req.filters()
        rows = self.cc.db.all("SELECT * FROM service_instances ORDER BY name")
        rows = [s for s in rows if "name" not in f or s["name"] == f["name"]]
        return Response(200, _page([self._service_instance(s) for s in rows]))

    def create_service_instance(self, req: Request, m: re.Match[str]) -> Response:
        return Response(201, self._service_instance(self.cc.create_service_instance(req.json())))

    def delete_service_instance(self, req: Request, m: re.Match[str]) -> Response:
        recursive = (req.query.get("recursive") or ["false"])[-1].lower() == "true"
        self.cc.delete_service_instance(m["guid"], recursive=recursive)
        return Response(204)

    def _binding(self, b: dict[str, Any]) -> dict[str, Any]:
        return _v2("service_bindings", b, {"app_guid": b["app_guid"],
                                           "service_instance_guid": b["service_instance_guid"],
                                           "credentials": b["credentials"], "name": None})

    def list_bindings(self, req: Request, m: re.Match[str]) -> Response:
        f = req.filters()
        rows = self.cc.db.all("SELECT * FROM service_bindings ORDER BY created_at")
        rows = [b for b in rows if all(b[k] == f[k] for k in ("app_guid", "service_instance_guid")
                                       if k in f)]
        return Response(200, _page([self._binding(b) for b in rows]))

    def app_bindings(self, req: Request, m: re.Match[str]) -> Response:
        self.cc.app(m["guid"])
        rows = self.cc.db.all("SELECT * FROM service_bindings WHERE app_guid = ?", m["guid"])
        return Response(200, _page([self._binding(b) for b in rows]))

    def bind(self, req: Request, m: re.Match[str]) -> Response:
        return Response(201, self._binding(self.cc.bind(req.json())))

    def unbind(self, req: Request, m: re.Match[str]) -> Response:
        self.cc.unbind(m["guid"])
        return Response(204)

    # ---- events, logs, cells' reports ----------------------------------------------------

    @staticmethod
    def _event_filters(req: Request) -> dict[str, list[str]]:
        """v2 ``q=actee:GUID``, ``q=type IN a,b``, ``q=timestamp>=T`` (repeatable)."""
        out: dict[str, list[str]] = {}
        for q in req.query.get("q", []):
            m = re.match(r"^(\w+)(:| IN |>=|<=|>|<)(.*)$", q)
            if not m:
                raise CCError("InvalidRequest")
            key, op, value = m.groups()
            name = {":": key, " IN ": f"{key} IN"}.get(op, f"{key}{op}")
            out.setdefault(name, []).append(value)
        return out

    def list_events(self, req: Request, m: re.Match[str]) -> Response:
        desc = (req.query.get("order-direction") or ["asc"])[-1] == "desc"
        rows = self.cc.events.list(self._event_filters(req), descending=desc)
        try:
            per_page = int((req.query.get("results-per-page") or ["50"])[-1])
        except ValueError:
            raise CCError("InvalidRequest") from None
        per_page = max(1, min(per_page, 100))
        page = [v2_event(r) for r in rows[:per_page]]
        body = _page(page)
        body["total_results"] = len(rows)
        body["total_pages"] = max(1, -(-len(rows) // per_page))
        return Response(200, body)

    def get_event(self, req: Request, m: re.Match[str]) -> Response:
        row = self.cc.db.one("SELECT * FROM events WHERE guid = ?", m["guid"])
        if row is None:
            raise CCError("NotFound")
        return Response(200, v2_event(row))

    def read_logs(self, req: Request, m: re.Match[str]) -> Response:
        """Log Cache's ``GET /api/v1/read/<source id>``: ``start_time`` (ns), ``limit``,
        ``descending``. An app that does not exist (any more) is a 404, so a reader
        following a deleted app's logs learns that it is gone."""
        self.cc.app(m["guid"])
        q = {k: v[-1] for k, v in req.query.items() if v}
        try:
            start = int(q.get("start_time", "0"))
            limit = max(1, min(int(q.get("limit", str(MAX_READ))), MAX_READ))
        except ValueError:
            raise CCError("InvalidRequest") from None
        envelopes = self.cc.logs.read(m["guid"], start, limit,
                                      descending=q.get("descending") == "true")
        return Response(200, {"envelopes": {"batch": envelopes}})

    def ingest_envelopes(self, req: Request, m: re.Match[str]) -> Response:
        batch = req.json().get("envelopes")
        if not isinstance(batch, list):
            raise CCError("MessageParseError", "envelopes must be a list")
        try:
            n = self.cc.logs.ingest(batch)
        except EnvelopeError as e:
            raise CCError("MessageParseError", str(e)) from None
        return Response(200, {"ingested": n})

    def crashed(self, req: Request, m: re.Match[str]) -> Response:
        self.cc.app_crashed(m["pg"], req.json())
        return Response(200, {})
