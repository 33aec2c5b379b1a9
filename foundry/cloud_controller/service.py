"""CC operations: the records in SQLite and the LRPs they imply in the BBS.

The rule that keeps the two consistent: talk to the BBS first, record second, so a BBS
failure leaves the CC's records as they were (nothing half-started or half-scaled).
"""

from __future__ import annotations

import re
import time
from typing import Any

from foundry.bbs.client import BBSClient
from foundry.cloud_controller import recipe, stats
from foundry.cloud_controller.bits import BitsStore, inspect
from foundry.cloud_controller.broker_client import BrokerClient
from foundry.cloud_controller.config import CCConfig
from foundry.cloud_controller.db import DB, new_guid, now_iso
from foundry.cloud_controller.errors import CCError
from foundry.cloud_controller.events import EventRepository, censor, ruby_hash
from foundry.cloud_controller.logcache import LogCache

APP_NAME = re.compile(r"^[^\s/][^/]{0,254}$")
HOST = re.compile(r"^(\*|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$", re.IGNORECASE)
PATH = re.compile(r"^(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$")
MAX_INSTANCES = 100
UPDATABLE = ("name", "instances", "memory", "disk_quota", "command", "environment_json", "state")


def _int_field(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    if name not in body or body[name] is None:
        return None
    v = body[name]
    if not isinstance(v, int) or isinstance(v, bool):
        raise CCError("AppInvalid", f"{name} must be an integer")
    if not low <= v <= high:
        if name == "instances":
            raise CCError("AppInvalid", f"instances must be between {low} and {high}")
        raise CCError("AppInvalid", f"{name} must be between {low} and {high}")
    return v


def _memory_field(body: dict[str, Any], name: str) -> int | None:
    """``memory`` / ``disk_quota`` in MB: a whole number above zero (CC's
    AppMemoryInvalid for memory, AppInvalid for disk)."""
    if name not in body or body[name] is None:
        return None
    v = body[name]
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        if name == "memory":
            raise CCError("AppMemoryInvalid")
        raise CCError("AppInvalid", f"{name} must be greater than 0MB")
    return v


class CloudController:
    def __init__(self, cfg: CCConfig, db: DB, bbs: BBSClient, bits: BitsStore,
                 broker: BrokerClient | None = None) -> None:
        self.cfg = cfg
        self.broker = broker or BrokerClient(cfg.service_broker_url,
                                             cfg.service_broker_username,
                                             cfg.service_broker_password)
        self.db = db
        self.bbs = bbs
        self.bits = bits
        db.seed(cfg.apps_domain)
        self.events = EventRepository(db)
        self.logs = LogCache(cfg.log_cache_max_per_source)

    @property
    def cf_api(self) -> str:
        return f"https://api.{self.cfg.system_domain}"

    @property
    def external_api(self) -> str:
        """Where clients reach this CC (what `GET /` links to)."""
        return (self.cfg.external_url or self.cf_api).rstrip("/")

    # ---- lookups -----------------------------------------------------------------------

    def org(self, guid: str) -> dict[str, Any]:
        org = self.db.one("SELECT * FROM organizations WHERE guid = ?", guid)
        if org is None:
            raise CCError("OrganizationNotFound", guid)
        return org

    def space(self, guid: str) -> dict[str, Any]:
        space = self.db.one("SELECT * FROM spaces WHERE guid = ?", guid)
        if space is None:
            raise CCError("SpaceNotFound", guid)
        return space

    def app(self, guid: str) -> dict[str, Any]:
        app = self.db.one("SELECT * FROM apps WHERE guid = ?", guid)
        if app is None:
            raise CCError("AppNotFound", guid)
        return app

    def domain(self, guid: str) -> dict[str, Any]:
        d = self.db.one("SELECT * FROM domains WHERE guid = ?", guid)
        if d is None:
            raise CCError("DomainNotFound", guid)
        return d

    def route(self, guid: str) -> dict[str, Any]:
        r = self.db.one("SELECT * FROM routes WHERE guid = ?", guid)
        if r is None:
            raise CCError("RouteNotFound", guid)
        return r

    def routes_of(self, app_guid: str) -> list[dict[str, Any]]:
        return self.db.all(
            "SELECT r.* FROM routes r JOIN route_mappings m ON m.route_guid = r.guid "
            "WHERE m.app_guid = ? ORDER BY m.created_at, r.host", app_guid)

    def apps_of(self, route_guid: str) -> list[dict[str, Any]]:
        return self.db.all(
            "SELECT a.* FROM apps a JOIN route_mappings m ON m.app_guid = a.guid "
            "WHERE m.route_guid = ? ORDER BY a.name", route_guid)

    def uri(self, route: dict[str, Any]) -> str:
        return recipe.route_uri(route, self.domain(route["domain_guid"])["name"])

    def uris(self, app_guid: str) -> list[str]:
        return [self.uri(r) for r in self.routes_of(app_guid)]

    def bindings_of(self, app_guid: str) -> list[dict[str, Any]]:
        return self.db.all(
            "SELECT b.guid, b.service_instance_guid, b.credentials, s.name, s.label, s.plan, "
            "s.tags FROM service_bindings b JOIN service_instances s "
            "ON s.guid = b.service_instance_guid WHERE b.app_guid = ?", app_guid)

    def process_guid(self, app: dict[str, Any]) -> str | None:
        if app["state"] != "STARTED" or not app.get("version_guid"):
            return None
        return recipe.lrp_process_guid(app["guid"], app["version_guid"])

    # ---- apps --------------------------------------------------------------------------

    def create_app(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not APP_NAME.match(name):
            raise CCError("AppInvalid", "name is required and may not contain '/' or "
                          "start with a space")
        space_guid = body.get("space_guid")
        if not isinstance(space_guid, str):
            raise CCError("AppInvalid", "space_guid is required")
        self.space(space_guid)
        instances = _int_field(body, "instances", 0, MAX_INSTANCES)
        memory = _memory_field(body, "memory")
        disk = _memory_field(body, "disk_quota")
        command = body.get("command")
        if command is not None and not isinstance(command, str):
            raise CCError("AppInvalid", "command must be a string")
        env = body.get("environment_json") or {}
        if not isinstance(env, dict):
            raise CCError("AppInvalid", "environment_json must be an object")
        if body.get("state", "STOPPED") != "STOPPED":
            raise CCError("AppInvalid", "an app is created STOPPED; upload bits, then start it")
        with self.db.tx():
            if self.db.one("SELECT 1 FROM apps WHERE space_guid = ? AND name = ?",
                           space_guid, name):
                raise CCError("AppNameTaken", name)
            now = now_iso()
            row = {"name": name, "space_guid": space_guid, "state": "STOPPED",
                   "instances": 1 if instances is None else instances,
                   "memory": memory or self.cfg.default_memory_mb,
                   "disk_quota": disk or self.cfg.default_disk_mb,
                   "command": command or None, "detected_start_command": "",
                   "environment_json": env, "updated_at": now, "created_at": now}
            self._check_quota(row, None)
            app = self.db.insert("apps", row)
            self.events.record("audit.app.create", app, self.space(space_guid),
                               {"request": censor(body)})
        self.logs.log(app["guid"], "API", f"Created app with guid {app['guid']}")
        return app

    def _check_quota(self, merged: dict[str, Any], guid: str | None) -> None:
        """The space quota, as CC checks it on create and update: disk per instance,
        memory per instance, and the memory of the space's started apps together."""
        if merged["disk_quota"] > self.cfg.maximum_app_disk_in_mb:
            raise CCError("AppInvalid", f"disk_quota too much disk requested (requested "
                          f"{merged['disk_quota']} MB - must be less than "
                          f"{self.cfg.maximum_app_disk_in_mb} MB)")
        limit = self.cfg.space_instance_memory_limit_mb
        if limit >= 0 and merged["memory"] > limit:
            raise CCError("SpaceQuotaInstanceMemoryLimitExceeded")
        if merged.get("state") != "STARTED":
            return  # memory counts against the space only while the app is started
        others = self.db.all("SELECT memory, instances FROM apps WHERE space_guid = ? AND "
                             "state = 'STARTED' AND guid != ?", merged["space_guid"], guid or "")
        used = sum(a["memory"] * a["instances"] for a in others)
        wanted = merged["memory"] * merged["instances"]
        if wanted + used > self.cfg.space_memory_limit_mb:
            raise CCError("SpaceQuotaMemoryLimitExceeded",
                          "app requested more memory than available")

    def _desire(self, app: dict[str, Any]) -> dict[str, Any]:
        space = self.space(app["space_guid"])
        org = self.org(space["organization_guid"])
        lrp = recipe.build_desired_lrp(
            app, space, org, self.uris(app["guid"]), self.bindings_of(app["guid"]),
            internal_url=self.cfg.internal_url, cf_api=self.cf_api,
            credhub_url=self.cfg.credhub_url)
        self.bbs.desire(lrp)
        return lrp

    def update_app(self, guid: str, body: dict[str, Any], audit: bool = True) -> dict[str, Any]:
        """A v2 PUT. Memory and disk changes reach running instances at their next
        start (`cf restart`), as on CF; instances and state act at once."""
        app = self.app(guid)
        unknown = [k for k in body if k not in UPDATABLE and k not in ("space_guid",)]
        if unknown:
            raise CCError("AppInvalid", f"cannot update {', '.join(sorted(unknown))}")
        changes: dict[str, Any] = {}
        if "name" in body and body["name"] != app["name"]:
            name = body["name"]
            if not isinstance(name, str) or not APP_NAME.match(name):
                raise CCError("AppInvalid", "name may not contain '/' or start with a space")
            if self.db.one("SELECT 1 FROM apps WHERE space_guid = ? AND name = ? AND guid != ?",
                           app["space_guid"], name, guid):
                raise CCError("AppNameTaken", name)
            changes["name"] = name
        v = _int_field(body, "instances", 0, MAX_INSTANCES)
        if v is not None:
            changes["instances"] = v
        for field in ("memory", "disk_quota"):
            v = _memory_field(body, field)
            if v is not None:
                changes[field] = v
        if "command" in body:
            if body["command"] is not None and not isinstance(body["command"], str):
                raise CCError("AppInvalid", "command must be a string")
            changes["command"] = body["command"] or None
        if "environment_json" in body:
            if not isinstance(body["environment_json"], dict):
                raise CCError("AppInvalid", "environment_json must be an object")
            changes["environment_json"] = body["environment_json"]
        state = body.get("state", app["state"])
        if state not in ("STARTED", "STOPPED"):
            raise CCError("AppInvalid", "state must be STARTED or STOPPED")
        merged = {**app, **changes}
        if any(k in changes for k in ("memory", "disk_quota", "instances")) or (
                state == "STARTED" and app["state"] != "STARTED"):
            self._check_quota({**merged, "state": state}, guid)
        pg = self.process_guid(app)
        if state == "STARTED" and app["state"] != "STARTED":
            if not app.get("bits_sha256"):
                raise CCError("AppPackageInvalid", "bits have not been uploaded")
            merged.update(state="STARTED", version_guid=new_guid())
            self._desire(merged)
            changes.update(state="STARTED", version_guid=merged["version_guid"])
        elif state == "STOPPED" and app["state"] == "STARTED":
            if pg:
                self.bbs.remove_desired(pg)
            changes.update(state="STOPPED", version_guid=None)
        elif pg and "instances" in changes and changes["instances"] != app["instances"]:
            self.bbs.update_desired(pg, {"instances": changes["instances"]})
        if changes:
            self.db.update("apps", guid, changes)
        if audit:
            request = censor({k: v for k, v in body.items() if k != "space_guid"})
            self.events.record("audit.app.update", merged, self.space(app["space_guid"]),
                               {"request": request})
            self.logs.log(guid, "API", f"Updated app with guid {guid} ({ruby_hash(request)})")
        return self.app(guid)

    def restart(self, guid: str) -> dict[str, Any]:
        """Stop then start: a new version guid, so every instance is replaced."""
        self.update_app(guid, {"state": "STOPPED"}, audit=False)
        app = self.update_app(guid, {"state": "STARTED"}, audit=False)
        self.events.record("audit.app.restage", app, self.space(app["space_guid"]))
        self.logs.log(guid, "API", f"Restaging app with guid {guid}")
        return app

    def upload_bits(self, guid: str, data: bytes) -> dict[str, Any]:
        app = self.app(guid)
        pkg = inspect(data, self.cfg.max_bits_bytes)
        self.bits.save(app["guid"], pkg)
        self.db.update("apps", guid, {"bits_sha256": pkg.sha256,
                                      "detected_start_command": pkg.detected_start_command,
                                      "package_updated_at": now_iso()})
        return self.app(guid)

    def delete_app(self, guid: str) -> None:
        app = self.app(guid)
        pg = self.process_guid(app)
        if pg:
            self.bbs.remove_desired(pg)
        with self.db.tx():
            self.db.delete("route_mappings", "app_guid = ?", guid)
            self.db.delete("service_bindings", "app_guid = ?", guid)
            self.db.delete("apps", "guid = ?", guid)
            self.events.record("audit.app.delete-request", app, self.space(app["space_guid"]),
                               {"request": {"recursive": False}})
        self.bits.delete(guid)
        self.logs.forget(guid)

    def app_stats_lrps(self, app: dict[str, Any]) -> list[dict[str, Any]]:
        pg = self.process_guid(app)
        return self.bbs.actual_lrps(process_guid=pg) if pg else []

    def v2_stats(self, guid: str) -> dict[str, Any]:
        app = self.app(guid)
        if app["state"] != "STARTED":
            raise CCError("AppStoppedStatsError", app["name"])
        return stats.v2_stats(app, self.uris(guid), self.app_stats_lrps(app), self.cfg.mode,
                              usage=self.logs.gauges(guid))

    def v2_instances(self, guid: str) -> dict[str, Any]:
        """``GET /v2/apps/:guid/instances``: {"0": {"state", "uptime", "since"}, ...}."""
        app = self.app(guid)
        if app["state"] != "STARTED":
            raise CCError("InstancesError", f"Request failed for app: {app['name']} as the "
                          "app is in stopped state.")
        out: dict[str, Any] = {}
        for index, entry in self.v2_stats(guid).items():
            uptime = (entry.get("stats") or {}).get("uptime", entry.get("uptime", 0))
            out[index] = {"state": entry["state"], "uptime": uptime,
                          "since": round(time.time() - uptime, 3)}
        return out

    def ssh_access(self, guid: str, index: str) -> dict[str, Any]:
        """What Diego's ssh-proxy asks before it lets a user into an instance."""
        app = self.app(guid)
        pg = self.process_guid(app)
        if pg is None or not index.isdigit() or int(index) >= app["instances"]:
            raise CCError("NotFound")
        return {"process_guid": pg}

    def terminate_instance(self, guid: str, index: str) -> None:
        """Stop one instance; Diego starts it again as a new instance (CF's v2 API)."""
        app = self.app(guid)
        pg = self.process_guid(app)
        if app["state"] != "STARTED" or pg is None:
            raise CCError("InstancesError", f"Request failed for app: {app['name']} as the "
                          "app is in stopped state.")
        if not index.isdigit() or int(index) >= app["instances"]:
            raise CCError("InstancesError", f"Instance {index} of app {app['name']} does not "
                          "exist.")
        self.bbs.retire(pg, int(index))

    def v3_stats(self, guid: str) -> dict[str, Any]:
        app = self.db.one("SELECT * FROM apps WHERE guid = ?", guid)
        if app is None:
            raise CCError("ProcessNotFound")
        if app["state"] != "STARTED":
            return stats.v3_stats({**app, "instances": 0}, [], self.cfg.mode)
        return stats.v3_stats(app, self.app_stats_lrps(app), self.cfg.mode,
                              usage=self.logs.gauges(guid))

    def app_crashed(self, process_guid: str, payload: dict[str, Any]) -> None:
        """tps-watcher's report of a crashed instance (``AppCrashedController``):
        an ``app.crash`` event, and the API's line in the app's logs."""
        app = self.db.one("SELECT * FROM apps WHERE guid = ?", process_guid[:36])
        if app is None:
            raise CCError("NotFound")
        if not isinstance(payload, dict):
            raise CCError("MessageParseError", "body must be a JSON object")
        self.events.crash(app, self.space(app["space_guid"]), payload)
        self.logs.log(app["guid"], "API", f"App instance exited with guid {app['guid']} "
                      f"payload: {ruby_hash(payload)}")

    def running_instances(self, app: dict[str, Any]) -> int:
        try:
            return sum(1 for lrp in self.app_stats_lrps(app) if lrp.get("state") == "RUNNING")
        except CCError:
            return 0

    def env(self, guid: str) -> dict[str, Any]:
        app = self.app(guid)
        space = self.space(app["space_guid"])
        org = self.org(space["organization_guid"])
        uris = self.uris(guid)
        return {
            "staging_env_json": {}, "running_env_json": {},
            "environment_json": app.get("environment_json") or {},
            "system_env_json": {"VCAP_SERVICES": recipe.vcap_services(self.bindings_of(guid))},
            "application_env_json": {"VCAP_APPLICATION": recipe.vcap_application(
                app, space, org, uris, self.cf_api)},
        }

    # ---- routes ------------------------------------------------------------------------

    def create_route(self, body: dict[str, Any]) -> dict[str, Any]:
        host = body.get("host", "")
        path = body.get("path") or ""
        if not isinstance(host, str) or (host and not HOST.match(host)):
            raise CCError("RouteInvalid", f"host {host!r} must be a DNS label")
        if not isinstance(path, str) or (path and not PATH.match(path)):
            raise CCError("RouteInvalid", f"path {path!r} must start with '/' and be a URL path")
        if not host:
            raise CCError("RouteInvalid", "a host is required on a shared domain")
        domain = self.domain(str(body.get("domain_guid")))
        space = self.space(str(body.get("space_guid")))
        with self.db.tx():
            if self.db.one("SELECT 1 FROM routes WHERE host = ? AND domain_guid = ? AND path = ?",
                           host.lower(), domain["guid"], path):
                raise CCError("RouteHostTaken", f"{host.lower()}.{domain['name']}{path}")
            return self.db.insert("routes", {"host": host.lower(), "domain_guid": domain["guid"],
                                             "path": path, "space_guid": space["guid"]})

    def _sync_routes(self, app_guid: str) -> None:
        app = self.app(app_guid)
        pg = self.process_guid(app)
        if pg:
            self.bbs.update_desired(pg, {"routes": recipe.cf_routes(self.uris(app_guid))})

    def map_route(self, app_guid: str, route_guid: str) -> dict[str, Any]:
        """Idempotent; updates a running app's LRP routes in place (no restart)."""
        app = self.app(app_guid)
        route = self.route(route_guid)
        if route["space_guid"] != app["space_guid"]:
            raise CCError("InvalidRequest")
        existing = self.db.one("SELECT * FROM route_mappings WHERE app_guid = ? AND route_guid = ?",
                               app_guid, route_guid)
        if existing:
            return existing
        mapping = self.db.insert("route_mappings", {"app_guid": app_guid, "route_guid": route_guid})
        try:
            self._sync_routes(app_guid)
        except CCError:
            self.db.delete("route_mappings", "guid = ?", mapping["guid"])
            raise
        self.events.record("audit.app.map-route", app, self.space(app["space_guid"]),
                           self._mapping_metadata(mapping))
        return mapping

    @staticmethod
    def _mapping_metadata(m: dict[str, Any]) -> dict[str, Any]:
        return {"route_guid": m["route_guid"], "app_port": 8080, "route_mapping_guid": m["guid"],
                "destination_guid": m["guid"], "process_type": "web", "weight": None,
                "protocol": "http1"}

    def unmap_route(self, app_guid: str, route_guid: str) -> None:
        self.app(app_guid)
        self.route(route_guid)
        m = self.db.one("SELECT * FROM route_mappings WHERE app_guid = ? AND route_guid = ?",
                        app_guid, route_guid)
        if m is None:
            raise CCError("RouteMappingNotFound", f"app {app_guid} route {route_guid}")
        self.db.delete("route_mappings", "guid = ?", m["guid"])
        try:
            self._sync_routes(app_guid)
        except CCError:
            self.db.insert("route_mappings", m)
            raise
        app = self.app(app_guid)
        self.events.record("audit.app.unmap-route", app, self.space(app["space_guid"]),
                           self._mapping_metadata(m))

    def delete_route(self, guid: str) -> None:
        self.route(guid)
        apps = self.apps_of(guid)
        self.db.delete("route_mappings", "route_guid = ?", guid)
        self.db.delete("routes", "guid = ?", guid)
        for app in apps:
            self._sync_routes(app["guid"])

    # ---- services ----------------------------------------------------------------------

    def create_service_instance(self, body: dict[str, Any]) -> dict[str, Any]:
        """User-provided (``label``/``credentials``) or managed (``service_plan_guid``:
        the broker provisions it first, then the CC records it)."""
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CCError("InvalidRequest")
        space = self.space(str(body.get("space_guid")))
        creds = body.get("credentials") or {}
        tags = body.get("tags") or []
        if not isinstance(creds, dict) or not isinstance(tags, list):
            raise CCError("InvalidRequest")
        if self.db.one("SELECT 1 FROM service_instances WHERE space_guid = ? AND name = ?",
                       space["guid"], name):
            raise CCError("ServiceInstanceNameTaken", name)
        plan_guid = body.get("service_plan_guid")
        row: dict[str, Any] = {"name": name, "space_guid": space["guid"]}
        if plan_guid is not None:
            found = self.broker.plan(str(plan_guid))
            if found is None:
                raise CCError("ServicePlanNotFound", plan_guid)
            svc, plan = found
            row.update(guid=new_guid(), label=svc["name"], plan=plan["name"],
                       tags=list(svc.get("tags") or []) + tags, credentials={},
                       service_guid=svc["id"], service_plan_guid=plan["id"])
            self.broker.provision(row["guid"], svc["id"], plan["id"],
                                  space["organization_guid"], space["guid"])
        else:
            row.update(label=str(body.get("label") or "user-provided"),
                       plan=str(body.get("plan") or ""), tags=tags, credentials=creds)
        with self.db.tx():
            if self.db.one("SELECT 1 FROM service_instances WHERE space_guid = ? AND name = ?",
                           space["guid"], name):
                raise CCError("ServiceInstanceNameTaken", name)
            return self.db.insert("service_instances", row)

    def service_instance(self, guid: str) -> dict[str, Any]:
        si = self.db.one("SELECT * FROM service_instances WHERE guid = ?", guid)
        if si is None:
            raise CCError("ServiceInstanceNotFound", guid)
        return si

    def delete_service_instance(self, guid: str, recursive: bool = False) -> None:
        si = self.service_instance(guid)
        bindings = self.db.all("SELECT * FROM service_bindings WHERE service_instance_guid = ?",
                               guid)
        if si.get("service_plan_guid"):
            if bindings and not recursive:
                raise CCError("AssociationNotEmpty", "service_bindings", "service_instances")
            for b in bindings:
                self.unbind(b["guid"])
            self.broker.deprovision(guid, si["service_guid"], si["service_plan_guid"])
        with self.db.tx():
            self.db.delete("service_bindings", "service_instance_guid = ?", guid)
            self.db.delete("service_instances", "guid = ?", guid)

    def bind(self, body: dict[str, Any]) -> dict[str, Any]:
        """User-provided: credentials default to the instance's (a caller may pass its own).
        Managed: the broker binds and the CC keeps only what it returns, which for a
        CredHub broker is just ``{"credhub-ref": "((/c/...))"}``. Takes effect in
        VCAP_SERVICES at the next start."""
        app = self.app(str(body.get("app_guid")))
        si = self.service_instance(str(body.get("service_instance_guid")))
        creds = body.get("credentials")
        if creds is not None and not isinstance(creds, dict):
            raise CCError("InvalidRequest")
        if self.db.one("SELECT 1 FROM service_bindings WHERE app_guid = ? "
                       "AND service_instance_guid = ?", app["guid"], si["guid"]):
            raise CCError("ServiceBindingAppServiceTaken", f"{app['guid']} {si['guid']}")
        row: dict[str, Any] = {"app_guid": app["guid"], "service_instance_guid": si["guid"]}
        if si.get("service_plan_guid"):
            row["guid"] = new_guid()
            returned = self.broker.bind(si["guid"], row["guid"], si["service_guid"],
                                        si["service_plan_guid"], app["guid"])
            ref = returned.get("credhub-ref")
            row["credentials"] = {"credhub-ref": ref} if ref is not None else returned
        else:
            row["credentials"] = creds if creds is not None else si["credentials"]
        try:
            with self.db.tx():
                if self.db.one("SELECT 1 FROM service_bindings WHERE app_guid = ? "
                               "AND service_instance_guid = ?", app["guid"], si["guid"]):
                    raise CCError("ServiceBindingAppServiceTaken", f"{app['guid']} {si['guid']}")
                binding = self.db.insert("service_bindings", row)
                self.events.record(
                    "audit.service_binding.create", app, self.space(app["space_guid"]),
                    {"request": {"app_guid": app["guid"], "service_instance_guid": si["guid"]}},
                    actee=(binding["guid"], "service_binding", ""))
                return binding
        except CCError:
            if si.get("service_plan_guid"):  # orphan mitigation: undo the broker's binding
                self.broker.unbind(si["guid"], row["guid"], si["service_guid"],
                                   si["service_plan_guid"])
            raise

    def unbind(self, guid: str) -> None:
        b = self.db.one("SELECT * FROM service_bindings WHERE guid = ?", guid)
        if b is None:
            raise CCError("ServiceBindingNotFound", guid)
        si = self.service_instance(b["service_instance_guid"])
        if si.get("service_plan_guid"):
            self.broker.unbind(si["guid"], guid, si["service_guid"], si["service_plan_guid"])
        self.db.delete("service_bindings", "guid = ?", guid)
