"""`cf`: the Cloud Foundry CLI subset cflab needs, talking to cflab's Cloud Controller.

`cf login` gets tokens from the foundation's UAA (password grant, client `cf`) and keeps
them where the Go CLI does; every request carries the access token, refreshed when it
is about to expire or the Cloud Controller says it has. Output and exit codes follow
the cf CLI (v6, the PCF 2.x era): a progress line, ``OK`` or ``FAILED`` plus the reason
on stderr with exit 1.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from foundry.cli import cf_format as fmt
from foundry.cli import cf_network, uaa_client
from foundry.cli.cf_client import CCClient, CFConfig, CFError, error_message, ssl_context

NOT_LOGGED_IN = "Not logged in. Use 'cf login' or 'cf login --sso' to log in."
DEFAULT_STARTUP_TIMEOUT_MIN = 5.0  # cf's CF_STARTUP_TIMEOUT is in minutes too


class Context:
    def __init__(self, out: Any = None, err: Any = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.config = CFConfig.load()
        self._client: CCClient | None = None

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    @property
    def client(self) -> CCClient:
        if self._client is None:
            self._client = CCClient(self.config.api, token=self.authorization,
                                    ctx=self.config.ssl_context())
        return self._client

    @property
    def user(self) -> str:
        return str(uaa_client.claims(self.config.access_token).get("user_name")
                   or uaa_client.claims(self.config.access_token).get("client_id") or "")

    def authorization(self, refresh: bool = False) -> str:
        """The Authorization header: the stored token, refreshed first if it is expiring."""
        cfg = self.config
        if not cfg.access_token:
            raise CFError(NOT_LOGGED_IN)
        if refresh or uaa_client.expiring(cfg.access_token):
            if not cfg.refresh_token or not cfg.uaa_endpoint:
                raise CFError(NOT_LOGGED_IN)
            try:
                tokens = uaa_client.token_grant(
                    cfg.uaa_endpoint, cfg.ssl_context(), cfg.uaa_client, cfg.uaa_client_secret,
                    {"grant_type": "refresh_token", "refresh_token": cfg.refresh_token})
            except CFError as e:
                raise CFError(f"The token expired, was revoked, or the token ID is incorrect. "
                              f"Please log back in to re-authenticate. ({e})") from None
            cfg.access_token = f"bearer {tokens['access_token']}"
            cfg.refresh_token = tokens.get("refresh_token", cfg.refresh_token)
            cfg.save()
        return cfg.access_token

    def where(self) -> str:
        return f"in org {self.config.org} / space {self.config.space} as {self.user}"

    def space_guid(self) -> str:
        orgs = self.client.resources("/v2/organizations", f"name:{self.config.org}")
        if not orgs:
            raise CFError(f"Organization '{self.config.org}' not found.")
        spaces = self.client.resources("/v2/spaces", f"name:{self.config.space}",
                                       f"organization_guid:{orgs[0]['metadata']['guid']}")
        if not spaces:
            raise CFError(f"Space '{self.config.space}' not found.")
        return spaces[0]["metadata"]["guid"]

    def find_app(self, name: str) -> dict[str, Any] | None:
        apps = self.client.resources("/v2/apps", f"name:{name}", f"space_guid:{self.space_guid()}")
        return apps[0] if apps else None

    def app(self, name: str) -> dict[str, Any]:
        app = self.find_app(name)
        if app is None:
            raise CFError(f"App '{name}' not found.")
        return app

    def domain(self, name: str | None = None) -> dict[str, Any]:
        domains = self.client.resources("/v2/shared_domains", *([f"name:{name}"] if name else []))
        if not domains:
            raise CFError(f"Domain '{name}' not found." if name else "No shared domain found.")
        return domains[0]

    def stats(self, guid: str) -> list[dict[str, Any]]:
        return self.client.get(f"/v3/processes/{guid}/stats").get("resources", [])


# ---- helpers ---------------------------------------------------------------------------

def package_folder(path: Path) -> bytes:
    """The folder's contents as a tar.gz with paths relative to it (what CC stores)."""
    if not path.exists():
        raise CFError(f"Incorrect Usage: The specified path '{path}' does not exist.")
    if not path.is_dir():
        raise CFError(f"Incorrect Usage: The specified path '{path}' is not a directory.")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        for child in sorted(path.rglob("*")):
            rel = child.relative_to(path)
            if rel.parts[0] in (".git", "__pycache__", ".cfignore"):
                continue
            tar.add(child, arcname=str(rel), recursive=False)
    return buf.getvalue()


BYTE_QUANTITY = re.compile(r"^(\d+)([MGT])B?$", re.IGNORECASE)
BYTE_QUANTITY_ERROR = ("Incorrect Usage: Byte quantity must be an integer with a unit of "
                       "measurement like M, MB, G, or GB")


def megabytes(value: str | None) -> int | None:
    """cf's flag.Megabytes: ``256M``, ``1G``, ``512MB`` → MB; anything else (``10X``,
    ``0``, ``1.5G``) is cf's usage error before any request is made."""
    if value is None:
        return None
    m = BYTE_QUANTITY.match(value.strip())
    if not m:
        raise CFError(BYTE_QUANTITY_ERROR)
    return int(m.group(1)) * {"M": 1, "G": 1024, "T": 1024 * 1024}[m.group(2).upper()]


def startup_timeout() -> float:
    try:
        return float(os.environ.get("CF_STARTUP_TIMEOUT", DEFAULT_STARTUP_TIMEOUT_MIN)) * 60
    except ValueError:
        return DEFAULT_STARTUP_TIMEOUT_MIN * 60


def wait_for_start(ctx: Context, app: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Poll stats until one instance runs (or, with no instances, right away)."""
    ctx.say(f"Waiting for app {name} to start...")
    deadline = time.monotonic() + startup_timeout()
    guid = app["metadata"]["guid"]
    last = ""
    while True:
        stats = ctx.stats(guid)
        if app["entity"]["instances"] == 0 or any(s["state"] == "RUNNING" for s in stats):
            return stats
        counts: dict[str, int] = {}
        for s in stats:
            counts[s["state"].lower()] = counts.get(s["state"].lower(), 0) + 1
        line = f"{len(stats)} of {len(stats)} instances " + ", ".join(
            f"{n} {state}" for state, n in sorted(counts.items()))
        if line != last:
            ctx.say(line)
            last = line
        if time.monotonic() > deadline:
            if counts.get("crashed"):
                raise CFError("Start unsuccessful\n\nTIP: use 'cfdot actual-lrps' on a cell "
                              "to see why the instances crashed")
            raise CFError("Start app timeout\n\nTIP: Application must be listening on the "
                          "right port. Instead of hard coding the port, use the $PORT "
                          "environment variable.")
        time.sleep(0.5)


def show_app(ctx: Context, guid: str) -> None:
    summary = ctx.client.get(f"/v2/apps/{guid}/summary")
    stats = ctx.stats(guid) if summary["state"] == "STARTED" else []
    ctx.say(fmt.app_summary(summary, stats))


def start_and_show(ctx: Context, guid: str, name: str) -> None:
    """The end of push, start, restart and scale: start, wait for an instance, show the app."""
    app = set_state(ctx, guid, "STARTED")
    ctx.say()
    wait_for_start(ctx, app, name)
    ctx.say()
    show_app(ctx, guid)


def set_state(ctx: Context, guid: str, state: str) -> dict[str, Any]:
    return ctx.client.call("PUT", f"/v2/apps/{guid}", {"state": state})


def find_route(ctx: Context, host: str, domain_guid: str, path: str) -> dict[str, Any] | None:
    routes = ctx.client.resources("/v2/routes", f"host:{host}", f"domain_guid:{domain_guid}",
                                  f"path:{path}")
    return routes[0] if routes else None


def ensure_route(ctx: Context, host: str, domain: dict[str, Any], path: str = "",
                 space_guid: str = "") -> dict[str, Any]:
    route = find_route(ctx, host, domain["metadata"]["guid"], path)
    if route is not None:
        return route
    return ctx.client.call("POST", "/v2/routes", {
        "host": host, "domain_guid": domain["metadata"]["guid"], "path": path,
        "space_guid": space_guid or ctx.space_guid()})


# ---- commands --------------------------------------------------------------------------

def set_api(ctx: Context, url: str, ca_file: str | None, skip_ssl: bool) -> dict[str, Any]:
    """Point the config at the API: its UAA and ssh endpoints from /v2/info; logged out."""
    url = url if "://" in url else f"https://{url}"
    cfg = ctx.config
    ca = cfg.ca_cert if url.rstrip("/") == cfg.api.rstrip("/") else ""
    if ca_file:
        try:
            ca = Path(ca_file).read_text()
        except OSError as e:
            raise CFError(f"Cannot read CA certificate {ca_file}: {e.strerror}") from e
    try:
        info = CCClient(url, ctx=ssl_context(ca, skip_ssl)).get("/v2/info")
    except CFError as e:
        if "CERTIFICATE_VERIFY_FAILED" in str(e):
            raise CFError(f"Invalid SSL Cert for {url}\nTIP: Use 'cf api --skip-ssl-validation'"
                          " to continue with an insecure API endpoint") from None
        raise
    same = url.rstrip("/") == cfg.api.rstrip("/")
    cfg.api, cfg.ca_cert, cfg.skip_ssl_validation = url.rstrip("/"), ca, skip_ssl
    cfg.api_version = str(info.get("api_version", ""))
    cfg.authorization_endpoint = str(info.get("authorization_endpoint") or "")
    cfg.uaa_endpoint = str(info.get("token_endpoint") or cfg.authorization_endpoint)
    cfg.ssh_oauth_client = str(info.get("app_ssh_oauth_client") or "ssh-proxy")
    if not same:
        cfg.access_token = cfg.refresh_token = ""
    cfg.save()
    return info


def cmd_api(ctx: Context, a: argparse.Namespace) -> int:
    if not a.url:
        if not ctx.config.api:
            ctx.say("No API endpoint set. Use 'cf api' to set an endpoint")
            return 0
        ctx.say(fmt.key_values([("api endpoint", ctx.config.api),
                                ("api version", ctx.config.api_version)]))
        return 0
    url = a.url if "://" in a.url else f"https://{a.url}"
    ctx.say(f"Setting api endpoint to {url}...")
    info = set_api(ctx, url, a.ca_cert, a.skip_ssl_validation)
    ctx.say("OK\n")
    ctx.say(fmt.key_values([("api endpoint", ctx.config.api),
                            ("api version", info.get("api_version", ""))]))
    if not ctx.config.access_token:
        ctx.say("Not logged in. Use 'cf login' or 'cf login --sso' to log in.")
    return 0


def authenticate(ctx: Context, username: str, password: str, client_credentials: bool) -> None:
    cfg = ctx.config
    if not cfg.uaa_endpoint:
        raise CFError("No API endpoint set. Use 'cf login' or 'cf api' to target an endpoint.")
    ctx.say("Authenticating...")
    if client_credentials:
        tokens = uaa_client.token_grant(cfg.uaa_endpoint, cfg.ssl_context(), username, password,
                                        {"grant_type": "client_credentials"})
        cfg.uaa_client, cfg.uaa_client_secret = username, password
        cfg.uaa_grant_type = "client_credentials"
    else:
        cfg.uaa_client, cfg.uaa_client_secret, cfg.uaa_grant_type = "cf", "", ""
        tokens = uaa_client.token_grant(cfg.uaa_endpoint, cfg.ssl_context(), "cf", "", {
            "grant_type": "password", "username": username, "password": password})
    cfg.access_token = f"bearer {tokens['access_token']}"
    cfg.refresh_token = tokens.get("refresh_token", "")
    cfg.save()
    ctx.say("OK\n")


def cmd_login(ctx: Context, a: argparse.Namespace) -> int:
    if a.api:
        ctx.say(f"API endpoint: {a.api}\n")
        set_api(ctx, a.api, a.ca_cert, a.skip_ssl_validation)
    elif not ctx.config.api:
        raise CFError("No API endpoint set. Use 'cf login -a API_URL'.")
    else:
        ctx.say(f"API endpoint: {ctx.config.api}\n")
    username = a.username or _prompt(ctx, "Email")
    password = a.password if a.password is not None else _prompt(ctx, "Password", secret=True)
    authenticate(ctx, username, password, False)
    if a.org or a.space:
        ctx.config.org = a.org or ctx.config.org
        ctx.config.space = a.space or ctx.config.space
    ctx.config.org_guid, ctx.config.space_guid = "", ""
    ctx.space_guid()  # the targeted org and space exist
    ctx.config.save()
    ctx.say(f"Targeted org {ctx.config.org}\n\nTargeted space {ctx.config.space}\n")
    ctx.say(fmt.key_values([("API endpoint", f"{ctx.config.api} (API version: "
                                             f"{ctx.config.api_version})"),
                            ("User", ctx.user), ("Org", ctx.config.org),
                            ("Space", ctx.config.space)]))
    return 0


def _prompt(ctx: Context, label: str, secret: bool = False) -> str:
    import getpass

    if secret:
        return getpass.getpass(f"{label}> ")
    ctx.out.write(f"{label}> ")
    ctx.out.flush()
    return sys.stdin.readline().strip()


def cmd_auth(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(f"API endpoint: {ctx.config.api}")
    authenticate(ctx, a.username, a.password, a.client_credentials)
    ctx.say("Use 'cf target' to view or set your target org and space.")
    return 0


def cmd_logout(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(f"Logging out {ctx.user}...")
    cfg = ctx.config
    cfg.access_token = cfg.refresh_token = cfg.uaa_client_secret = cfg.uaa_grant_type = ""
    cfg.uaa_client = "cf"
    cfg.save()
    ctx.say("OK")
    return 0


def cmd_oauth_token(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(ctx.authorization(refresh=uaa_client.expiring(ctx.config.access_token)))
    return 0


def cmd_ssh_code(ctx: Context, a: argparse.Namespace) -> int:
    cfg = ctx.config
    bearer = ctx.authorization()
    ctx.say(uaa_client.authorization_code(cfg.uaa_endpoint, cfg.ssl_context(), bearer,
                                          cfg.ssh_oauth_client))
    return 0


def cmd_target(ctx: Context, a: argparse.Namespace) -> int:
    if a.org or a.space:
        saved = (ctx.config.org, ctx.config.space)
        ctx.config.org = a.org or ctx.config.org
        ctx.config.space = a.space or ctx.config.space
        try:
            ctx.space_guid()
        except CFError:
            ctx.config.org, ctx.config.space = saved
            raise
        ctx.config.save()
    info = ctx.client.get("/v2/info")
    ctx.say(fmt.key_values([("api endpoint", ctx.config.api),
                            ("api version", info.get("api_version", "")), ("user", ctx.user),
                            ("org", ctx.config.org), ("space", ctx.config.space)]))
    return 0


def cmd_push(ctx: Context, a: argparse.Namespace) -> int:
    if a.instances is not None and a.instances < 0:
        raise CFError("Incorrect Usage: --instances must be zero or more")
    memory, disk = megabytes(a.memory), megabytes(a.disk)
    bits = package_folder(Path(a.path or "."))
    info = ctx.client.get("/v2/info")
    limit = (info.get("cflab") or {}).get("max_bits_bytes")
    if limit and len(bits) > int(limit):
        raise CFError(f"The app upload is invalid: Package may not be larger than {limit} bytes "
                      f"(packaged folder is {len(bits)} bytes)")
    ctx.say(f"Pushing app {a.name} to org {ctx.config.org} / space {ctx.config.space} "
            f"as {ctx.user}...")
    ctx.say("Getting app info...")
    space_guid = ctx.space_guid()
    domain = None if a.no_route else ctx.domain()
    host = (a.hostname or a.name).lower()
    existing = ctx.find_app(a.name)
    created = False
    if existing is None:
        ctx.say("Creating app with these attributes...")
        ctx.say(f"+ name:       {a.name}\n  path:       {Path(a.path or '.').resolve()}")
        body: dict[str, Any] = {"name": a.name, "space_guid": space_guid,
                                "instances": 1 if a.instances is None else a.instances}
        if a.command:
            body["command"] = a.command
        body.update({k: v for k, v in (("memory", memory), ("disk_quota", disk)) if v is not None})
        if domain:
            ctx.say(f"  routes:\n+   {host}.{domain['entity']['name']}")
        ctx.say()
        ctx.say(f"Creating app {a.name}...")
        app = ctx.client.call("POST", "/v2/apps", body)
        created = True
    else:
        ctx.say(f"Updating app {a.name}...")
        changes: dict[str, Any] = {}
        if a.instances is not None:
            changes["instances"] = a.instances
        if a.command:
            changes["command"] = a.command
        changes.update({k: v for k, v in (("memory", memory), ("disk_quota", disk))
                        if v is not None})
        app = existing
        if existing["entity"]["state"] == "STARTED":
            ctx.say(f"Stopping app {a.name}...")
            changes["state"] = "STOPPED"
        if changes:
            app = ctx.client.call("PUT", f"/v2/apps/{existing['metadata']['guid']}", changes)
    guid = app["metadata"]["guid"]
    try:
        ctx.say("Packaging files to upload...")
        ctx.say(f"Uploading files...\n {len(bits)} bytes")
        result = ctx.client.raw("PUT", f"/v2/apps/{guid}/bits", bits, "application/gzip")
        if result.status >= 400:
            raise CFError(error_message(result))
        ctx.say("Waiting for API to complete processing files...\n")
        if domain:
            ctx.say("Mapping routes...")
            route = ensure_route(ctx, host, domain, space_guid=space_guid)
            ctx.client.call("PUT", f"/v2/apps/{guid}/routes/{route['metadata']['guid']}")
    except CFError:
        if created:  # nothing half-created: the app record goes again
            ctx.client.raw("DELETE", f"/v2/apps/{guid}")
        raise
    if a.no_start:
        show_app(ctx, guid)
    else:
        ctx.say("Staging app and tracing logs...")
        start_and_show(ctx, guid, a.name)
    return 0


def cmd_apps(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(f"Getting apps {ctx.where()}...")
    summary = ctx.client.get(f"/v2/spaces/{ctx.space_guid()}/summary")
    ctx.say("OK\n")
    ctx.say(fmt.apps_table(summary.get("apps", [])))
    return 0


def cmd_app(ctx: Context, a: argparse.Namespace) -> int:
    if a.guid:  # cf CLI: only the guid, nothing else, for scripts
        ctx.say(ctx.app(a.name)["metadata"]["guid"])
        return 0
    ctx.say(f"Showing health and status for app {a.name} {ctx.where()}...\n")
    show_app(ctx, ctx.app(a.name)["metadata"]["guid"])
    return 0


def cmd_scale(ctx: Context, a: argparse.Namespace) -> int:
    memory, disk = megabytes(a.memory), megabytes(a.disk)
    if a.instances is not None and a.instances < 0:
        raise CFError("Incorrect Usage: Instance count must be zero or more")
    app = ctx.app(a.name)
    guid = app["metadata"]["guid"]
    if a.instances is None and memory is None and disk is None:
        show_app(ctx, guid)  # cf scale APP: the current scale
        return 0
    restart = (memory is not None or disk is not None) and app["entity"]["state"] == "STARTED"
    if restart and not a.force:
        ctx.out.write(f"This will cause the app to restart. Are you sure you want to scale "
                      f"{a.name}?> ")
        ctx.out.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            ctx.say("Scale cancelled")
            return 0
    ctx.say(f"Scaling app {a.name} {ctx.where()}...")
    changes = {k: v for k, v in (("instances", a.instances), ("memory", memory),
                                 ("disk_quota", disk)) if v is not None}
    ctx.client.call("PUT", f"/v2/apps/{guid}", changes)
    ctx.say("OK")
    if restart:  # new limits reach the containers only through a restart, as on CF
        ctx.say(f"\nStopping app {a.name} {ctx.where()}...")
        set_state(ctx, guid, "STOPPED")
        ctx.say(f"Starting app {a.name} {ctx.where()}...")
        start_and_show(ctx, guid, a.name)
    return 0


def cmd_events(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(f"Getting events for app {a.name} {ctx.where()}...\n")
    guid = ctx.app(a.name)["metadata"]["guid"]
    events = ctx.client.get("/v2/events", q=f"actee:{guid}", **{
        "order-direction": "desc", "results-per-page": "50"}).get("resources", [])
    ctx.say(fmt.events_table(events))
    return 0


LOG_POLL_INTERVAL = 0.5


def read_logs(ctx: Context, guid: str, name: str, **query: str) -> list[dict[str, Any]]:
    result = ctx.client.raw("GET", f"/api/v1/read/{guid}?" + urlencode(query))
    if result.status == 404:
        raise CFError(f"App {name} was deleted; the log stream has ended.")
    if result.status >= 400:
        raise CFError(error_message(result))
    return ((result.json() or {}).get("envelopes") or {}).get("batch") or []


def cmd_logs(ctx: Context, a: argparse.Namespace) -> int:
    """--recent: what the log store holds, oldest first; else follow from now on, until
    interrupted or the app is deleted (a restart of an instance does not end it)."""
    guid = ctx.app(a.name)["metadata"]["guid"]
    ctx.say(f"Retrieving logs for app {a.name} {ctx.where()}...\n")
    if a.recent:
        recent = read_logs(ctx, guid, a.name, descending="true", limit="1000")
        for env in reversed(recent):
            ctx.say(fmt.log_line(env))
        return 0
    last = read_logs(ctx, guid, a.name, descending="true", limit="1")
    after = int(last[0]["timestamp"]) + 1 if last else 0
    while True:
        batch = read_logs(ctx, guid, a.name, start_time=str(after))
        for env in batch:
            ctx.say(fmt.log_line(env))
            after = int(env["timestamp"]) + 1
        if not batch:
            time.sleep(LOG_POLL_INTERVAL)


def app_to_change(ctx: Context, name: str, state: str) -> dict[str, Any] | None:
    """The app, or None (said, as the cf CLI says it) when it already is in `state`."""
    app = ctx.app(name)
    if app["entity"]["state"] == state:
        ctx.say(f"App {name} is already {state.lower()}")
        return None
    return app


def cmd_start(ctx: Context, a: argparse.Namespace) -> int:
    app = app_to_change(ctx, a.name, "STARTED")
    if app is None:
        return 0
    ctx.say(f"Starting app {a.name} {ctx.where()}...")
    start_and_show(ctx, app["metadata"]["guid"], a.name)
    return 0


def cmd_stop(ctx: Context, a: argparse.Namespace) -> int:
    app = app_to_change(ctx, a.name, "STOPPED")
    if app is None:
        return 0
    ctx.say(f"Stopping app {a.name} {ctx.where()}...")
    set_state(ctx, app["metadata"]["guid"], "STOPPED")
    ctx.say("OK")
    return 0


def cmd_restart(ctx: Context, a: argparse.Namespace) -> int:
    app = ctx.app(a.name)
    guid = app["metadata"]["guid"]
    ctx.say(f"Restarting app {a.name} {ctx.where()}...")
    if app["entity"]["state"] == "STARTED":
        ctx.say(f"Stopping app {a.name}...")
        set_state(ctx, guid, "STOPPED")
    ctx.say(f"Starting app {a.name}...")
    start_and_show(ctx, guid, a.name)
    return 0


def confirm_delete(ctx: Context, what: str) -> bool:
    """cf's prompt before deleting without -f; anything but y/yes cancels."""
    ctx.out.write(f"Really delete {what}?> ")
    ctx.out.flush()
    if sys.stdin.readline().strip().lower() in ("y", "yes"):
        return True
    ctx.say("Delete cancelled")
    return False


def cmd_delete(ctx: Context, a: argparse.Namespace) -> int:
    if not a.force and not confirm_delete(ctx, f"the app {a.name}"):
        return 0
    ctx.say(f"Deleting app {a.name} {ctx.where()}...")
    app = ctx.find_app(a.name)
    ctx.say("OK")
    if app is None:  # cf delete is idempotent: scripts tear down with `cf delete -f`
        ctx.say(f"\nApp {a.name} does not exist.")
        return 0
    ctx.client.call("DELETE", f"/v2/apps/{app['metadata']['guid']}")
    return 0


def cmd_routes(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(f"Getting routes for org {ctx.config.org} / space {ctx.config.space} as {ctx.user} ...\n")
    space_guid = ctx.space_guid()
    domains = {d["metadata"]["guid"]: d["entity"]["name"]
               for d in ctx.client.resources("/v2/shared_domains")}
    rows = []
    for r in ctx.client.resources("/v2/routes", f"space_guid:{space_guid}"):
        apps = ctx.client.resources(f"/v2/routes/{r['metadata']['guid']}/apps")
        rows.append({"host": r["entity"]["host"], "domain": domains.get(
            r["entity"]["domain_guid"], ""), "path": r["entity"]["path"],
            "apps": [x["entity"]["name"] for x in apps]})
    ctx.say(fmt.routes_table(ctx.config.space, rows))
    return 0


def _route_name(host: str, domain: str, path: str) -> str:
    return (f"{host}.{domain}" if host else domain) + path


def _norm_path(path: str | None) -> str:
    if not path:
        return ""
    return path if path.startswith("/") else "/" + path


def cmd_map_route(ctx: Context, a: argparse.Namespace) -> int:
    app = ctx.app(a.name)
    domain = ctx.domain(a.domain)
    path = _norm_path(a.path)
    url = _route_name(a.hostname or "", a.domain, path)
    ctx.say(f"Creating route {url} for org {ctx.config.org} / space {ctx.config.space} "
            f"as {ctx.user}...")
    route = ensure_route(ctx, (a.hostname or "").lower(), domain, path)
    ctx.say("OK")
    ctx.say(f"Adding route {url} to app {a.name} {ctx.where()}...")
    ctx.client.call("PUT", f"/v2/apps/{app['metadata']['guid']}/routes/"
                    f"{route['metadata']['guid']}")
    ctx.say("OK")
    return 0


def cmd_unmap_route(ctx: Context, a: argparse.Namespace) -> int:
    app = ctx.app(a.name)
    domain = ctx.domain(a.domain)
    path = _norm_path(a.path)
    url = _route_name(a.hostname or "", a.domain, path)
    ctx.say(f"Removing route {url} from app {a.name} {ctx.where()}...")
    route = find_route(ctx, (a.hostname or "").lower(), domain["metadata"]["guid"], path)
    if route is None:
        raise CFError(f"Route with host '{a.hostname or ''}', domain '{a.domain}', and path "
                      f"'{path or '/'}' not found.")
    mapped = ctx.client.resources(f"/v2/apps/{app['metadata']['guid']}/routes")
    if route["metadata"]["guid"] not in {r["metadata"]["guid"] for r in mapped}:
        ctx.say("OK")
        ctx.say(f"Route {url} was not bound to app {a.name}")
        return 0
    ctx.client.call("DELETE", f"/v2/apps/{app['metadata']['guid']}/routes/"
                    f"{route['metadata']['guid']}")
    ctx.say("OK")
    return 0


def cmd_env(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(f"Getting env variables for app {a.name} {ctx.where()}...")
    env = ctx.client.get(f"/v2/apps/{ctx.app(a.name)['metadata']['guid']}/env")
    ctx.say("OK\n")
    ctx.say("System-Provided:")
    ctx.say(json.dumps(env.get("system_env_json", {}), indent=1) + "\n")
    ctx.say(json.dumps(env.get("application_env_json", {}), indent=1) + "\n")
    user = env.get("environment_json") or {}
    if user:
        ctx.say("User-Provided:")
        for k, v in sorted(user.items()):
            ctx.say(f"{k}: {v}")
        ctx.say()
    else:
        ctx.say("No user-defined env variables have been set\n")
    ctx.say("No running env variables have been set\n")
    ctx.say("No staging env variables have been set")
    return 0


def cmd_curl(ctx: Context, a: argparse.Namespace) -> int:
    data = a.data
    if data is not None and data.startswith("@"):
        try:
            data = Path(data[1:]).read_text()
        except OSError as e:
            raise CFError(f"Cannot read {data[1:]}: {e.strerror}") from e
    method = a.method or ("POST" if data is not None else "GET")
    path = a.path if a.path.startswith("/") else "/" + a.path
    result = ctx.client.raw(method.upper(), path, data.encode() if data is not None else None)
    body = result.json()
    ctx.say(json.dumps(body, indent=3) if body is not None
            else result.body.decode("utf-8", "replace"))
    return 1 if a.fail and result.status >= 400 else 0


ASKPASS = "#!/bin/sh\nprintf '%s\\n' \"$CFLAB_SSH_CODE\"\n"


def ssh_argv(endpoint: str, app_guid: str, index: int, command: str | None,
             tty: bool) -> list[str]:
    """OpenSSH to Diego's ssh-proxy, as `cf ssh` connects: user cf:<app guid>/<index>."""
    host, _, port = endpoint.rpartition(":")
    argv = [os.environ.get("CF_SSH", "ssh"), "-p", port or "2222",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "PubkeyAuthentication=no",
            "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1",
            "-tt" if tty else "-T", f"cf:{app_guid}/{index}@{host or endpoint}"]
    return argv + ([command] if command else [])


def cmd_ssh(ctx: Context, a: argparse.Namespace) -> int:
    app = ctx.app(a.name)
    if app["entity"]["state"] != "STARTED":
        raise CFError(f"App '{a.name}' is not running")
    guid = app["metadata"]["guid"]
    stats = [s for s in ctx.stats(guid) if s["index"] == a.app_instance_index]
    if not stats or stats[0]["state"] != "RUNNING" or not stats[0].get("instance_guid"):
        raise CFError(f"Instance {a.app_instance_index} of app '{a.name}' is not running")
    tty = sys.stdin.isatty() and not a.disable_pseudo_tty and (
        a.force_pseudo_tty or not a.command)
    if a.docker_exec:  # a debugging aid, not CF's path: straight into the container
        docker = os.environ.get("CF_DOCKER", "docker")
        # As root, so the session can read the container's environment; it then drops to
        # vcap and starts bash with what Diego's sshd would give it.
        argv = [docker, "exec", "-it" if tty else "-i", "-u", "root",
                stats[0]["instance_guid"], "python3", "-m", "foundry.diego_ssh"]
        argv += ["-c", a.command] if a.command is not None else []
        try:
            return subprocess.call(argv)
        except FileNotFoundError as e:
            raise CFError(f"--docker-exec runs '{docker} exec', which was not found") from e
    endpoint = ctx.client.get("/v2/info").get("app_ssh_endpoint")
    if not endpoint:
        raise CFError("This Cloud Controller advertises no app_ssh_endpoint (no ssh-proxy)")
    cfg = ctx.config
    code = uaa_client.authorization_code(cfg.uaa_endpoint, cfg.ssl_context(),
                                         ctx.authorization(), cfg.ssh_oauth_client)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cf-ssh-") as tmp:
        askpass = Path(tmp) / "askpass"
        askpass.write_text(ASKPASS)
        askpass.chmod(0o700)
        env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force",
                   CFLAB_SSH_CODE=code, DISPLAY=os.environ.get("DISPLAY", ":0"))
        argv = ssh_argv(endpoint, guid, a.app_instance_index, a.command, tty)
        try:
            return subprocess.call(argv, env=env)
        except FileNotFoundError as e:
            raise CFError(f"cf ssh runs OpenSSH's '{argv[0]}', which was not found") from e


def cmd_services(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(f"Getting services {ctx.where()}...")
    summary = ctx.client.get(f"/v2/spaces/{ctx.space_guid()}/summary")
    ctx.say("OK\n")
    bound: dict[str, list[str]] = {}
    for app in summary.get("apps", []):
        for s in app.get("service_names", []):
            bound.setdefault(s, []).append(app["name"])
    rows = [[s["name"], s["service_plan"]["service"]["label"], s["service_plan"]["name"],
             ", ".join(bound.get(s["name"], []))] for s in summary.get("services", [])]
    ctx.say(fmt.table(["name", "service", "plan", "bound apps"], rows) if rows
            else "No services found")
    return 0


def cmd_cups(ctx: Context, a: argparse.Namespace) -> int:
    creds: Any = {}
    if a.params:
        text = Path(a.params).read_text() if Path(a.params).is_file() else a.params
        try:
            creds = json.loads(text)
        except ValueError as e:
            raise CFError(f"Invalid configuration provided for -p flag: {e}") from e
    ctx.say(f"Creating user provided service {a.service_instance} {ctx.where()}...")
    ctx.client.call("POST", "/v2/service_instances", {
        "name": a.service_instance, "space_guid": ctx.space_guid(), "label": "user-provided",
        "credentials": creds})
    ctx.say("OK")
    return 0


def _service_instance(ctx: Context, name: str) -> dict[str, Any]:
    found = ctx.client.resources("/v2/service_instances", f"name:{name}")
    if not found:
        raise CFError(f"Service instance {name} not found")
    return found[0]


def cmd_bind(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(f"Binding service {a.service_instance} to app {a.name} {ctx.where()}...")
    app, si = ctx.app(a.name), _service_instance(ctx, a.service_instance)
    ctx.client.call("POST", "/v2/service_bindings", {
        "app_guid": app["metadata"]["guid"], "service_instance_guid": si["metadata"]["guid"]})
    ctx.say("OK")
    ctx.say(f"TIP: Use 'cf restage {a.name}' to ensure your env variable changes take effect")
    return 0


def cmd_unbind(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(f"Unbinding app {a.name} from service {a.service_instance} {ctx.where()}...")
    app, si = ctx.app(a.name), _service_instance(ctx, a.service_instance)
    found = ctx.client.resources("/v2/service_bindings", f"app_guid:{app['metadata']['guid']}",
                                 f"service_instance_guid:{si['metadata']['guid']}")
    for b in found:
        ctx.client.call("DELETE", f"/v2/service_bindings/{b['metadata']['guid']}")
    ctx.say("OK")
    if not found:
        ctx.say(f"Binding between {a.service_instance} and {a.name} did not exist")
    return 0


def cmd_marketplace(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(f"Getting all service offerings from marketplace {ctx.where()}...")
    services = ctx.client.resources("/v2/services")
    plans = ctx.client.resources("/v2/service_plans")
    ctx.say("")
    ctx.say(fmt.marketplace_table(services, plans))
    return 0


def cmd_create_service(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(f"Creating service instance {a.service_instance} {ctx.where()}...")
    services = ctx.client.resources("/v2/services", f"label:{a.service}")
    if not services:
        raise CFError(f"Service offering '{a.service}' not found.")
    plans = [p for p in ctx.client.resources(services[0]["entity"]["service_plans_url"])
             if p["entity"]["name"] == a.plan]
    if not plans:
        raise CFError(f"The plan {a.plan} could not be found for service {a.service}")
    ctx.client.call("POST", "/v2/service_instances?accepts_incomplete=true", {
        "name": a.service_instance, "space_guid": ctx.space_guid(),
        "service_plan_guid": plans[0]["metadata"]["guid"]})
    ctx.say("OK")
    return 0


def cmd_delete_service(ctx: Context, a: argparse.Namespace) -> int:
    if not a.force and not confirm_delete(ctx, f"the service {a.service_instance}"):
        return 0
    ctx.say(f"Deleting service {a.service_instance} {ctx.where()}...")
    found = ctx.client.resources("/v2/service_instances", f"name:{a.service_instance}")
    if not found:
        ctx.say("OK\n")
        ctx.say(f"Service {a.service_instance} does not exist.")
        return 0
    ctx.client.call("DELETE", f"/v2/service_instances/{found[0]['metadata']['guid']}")
    ctx.say("OK")
    return 0


# ---- parser ----------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CFError(f"Incorrect Usage: {message}\n\n{self.format_usage().strip()}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cf", description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, fn: Callable[[Context, argparse.Namespace], int], help: str,
            aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:  # noqa: A002
        sp = sub.add_parser(name, help=help, description=help, aliases=list(aliases))
        sp.set_defaults(fn=fn)
        return sp

    sp = add("api", cmd_api, "Set or view the target API URL")
    sp.add_argument("url", nargs="?")
    sp.add_argument("--ca-cert", help="PEM file of the CA that signed the API's certificate")
    sp.add_argument("--skip-ssl-validation", action="store_true")
    sp = add("login", cmd_login, "Log user in", ("l",))
    sp.add_argument("-a", dest="api", help="API endpoint (e.g. https://127.0.0.1:9022)")
    sp.add_argument("-u", dest="username")
    sp.add_argument("-p", dest="password")
    sp.add_argument("-o", dest="org")
    sp.add_argument("-s", dest="space")
    sp.add_argument("--ca-cert", help="PEM file of the CA that signed the API's certificate")
    sp.add_argument("--skip-ssl-validation", action="store_true")
    sp = add("auth", cmd_auth, "Authenticate non-interactively")
    sp.add_argument("username")
    sp.add_argument("password")
    sp.add_argument("--client-credentials", action="store_true",
                    help="use (non-user) service account (also called client credentials)")
    add("logout", cmd_logout, "Log user out", ("lo",))
    add("oauth-token", cmd_oauth_token, "Retrieve and display the OAuth token for the current "
        "session")
    add("ssh-code", cmd_ssh_code, "Get a one time password for ssh clients")
    sp = add("target", cmd_target, "Set or view the targeted org or space", ("t",))
    sp.add_argument("-o", dest="org")
    sp.add_argument("-s", dest="space")
    sp = add("push", cmd_push, "Push a new app or sync changes to an existing app", ("p",))
    sp.add_argument("name")
    sp.add_argument("-p", dest="path", help="path to the app folder (default: .)")
    sp.add_argument("-i", dest="instances", type=int)
    sp.add_argument("-c", dest="command", help="start command")
    sp.add_argument("--no-route", action="store_true")
    sp.add_argument("--hostname", "-n")
    sp.add_argument("--no-start", action="store_true")
    sp.add_argument("-m", dest="memory", help="memory limit (e.g. 256M, 1024M, 1G)")
    sp.add_argument("-k", dest="disk", help="disk limit (e.g. 256M, 1024M, 1G)")
    add("apps", cmd_apps, "List all apps in the target space", ("a",))
    for name, fn, help_ in (("app", cmd_app, "Display health and status for an app"),
                            ("start", cmd_start, "Start an app"),
                            ("stop", cmd_stop, "Stop an app"),
                            ("restart", cmd_restart, "Stop all instances of the app, then "
                                                     "start them again"),
                            ("env", cmd_env, "Show all env variables for an app")):
        aliases = {"start": ("st",), "stop": ("sp",), "restart": ("rs", "restage", "rg"),
                   "env": ("e",)}.get(name, ())
        sp = add(name, fn, help_, aliases)
        sp.add_argument("name")
        if name == "app":
            sp.add_argument("--guid", action="store_true", help="Retrieve and display the "
                            "given app's guid. All other health and status output for the "
                            "app is suppressed.")
    sp = add("scale", cmd_scale, "Change or view the instance count, disk space limit, and "
             "memory limit for an app")
    sp.add_argument("name")
    sp.add_argument("-i", dest="instances", type=int)
    sp.add_argument("-m", dest="memory", help="memory limit (e.g. 256M, 1024M, 1G)")
    sp.add_argument("-k", dest="disk", help="disk limit (e.g. 256M, 1024M, 1G)")
    sp.add_argument("-f", dest="force", action="store_true", help="force restart of app "
                    "without prompt")
    sp = add("logs", cmd_logs, "Tail or show recent logs for an app")
    sp.add_argument("name")
    sp.add_argument("--recent", action="store_true", help="dump recent logs instead of tailing")
    sp = add("events", cmd_events, "Show recent app events")
    sp.add_argument("name")
    sp = add("delete", cmd_delete, "Delete an app", ("d",))
    sp.add_argument("name")
    sp.add_argument("-f", dest="force", action="store_true", help="force deletion without "
                    "confirmation")
    sp.add_argument("-r", dest="delete_routes", action="store_true", help=argparse.SUPPRESS)
    add("routes", cmd_routes, "List all routes in the current space", ("r",))
    for name, fn, help_ in (("map-route", cmd_map_route, "Add a url route to an app"),
                            ("unmap-route", cmd_unmap_route, "Remove a url route from an app")):
        sp = add(name, fn, help_)
        sp.add_argument("name")
        sp.add_argument("domain")
        sp.add_argument("--hostname", "-n")
        sp.add_argument("--path")
    sp = add("curl", cmd_curl, "Execute a raw request against the Cloud Controller")
    sp.add_argument("path")
    sp.add_argument("-X", dest="method")
    sp.add_argument("-d", dest="data", help="request body, or @FILE")
    sp.add_argument("--fail", "-f", action="store_true",
                    help="exit 1 when the answer is an HTTP error")
    sp = add("ssh", cmd_ssh, "SSH to an application container instance (OpenSSH to the "
             "ssh-proxy as cf:<app guid>/<index>, with a one-time code from UAA)")
    sp.add_argument("name")
    sp.add_argument("-i", "--app-instance-index", dest="app_instance_index", type=int, default=0)
    sp.add_argument("-c", "--command", dest="command")
    sp.add_argument("-T", "--disable-pseudo-tty", dest="disable_pseudo_tty", action="store_true")
    sp.add_argument("-t", "--force-pseudo-tty", dest="force_pseudo_tty", action="store_true")
    sp.add_argument("--docker-exec", action="store_true", help="debugging aid, not CF's path: "
                    "'docker exec' into the container (named by its instance guid)")
    add("services", cmd_services, "List all service instances in the target space", ("s",))
    sp = add("create-user-provided-service", cmd_cups, "Make a user-provided service instance "
             "available to CF apps", ("cups",))
    sp.add_argument("service_instance")
    sp.add_argument("-p", dest="params", help="credentials as JSON or a JSON file")
    add("marketplace", cmd_marketplace, "List available offerings in the marketplace", ("m",))
    sp = add("create-service", cmd_create_service, "Create a service instance", ("cs",))
    sp.add_argument("service")
    sp.add_argument("plan")
    sp.add_argument("service_instance")
    sp = add("delete-service", cmd_delete_service, "Delete a service instance", ("ds",))
    sp.add_argument("service_instance")
    sp.add_argument("-f", dest="force", action="store_true", help="force deletion without "
                    "confirmation")
    for name, fn, help_, aliases in (
            ("bind-service", cmd_bind, "Bind a service instance to an app", ("bs",)),
            ("unbind-service", cmd_unbind, "Unbind a service instance from an app", ("us",))):
        sp = add(name, fn, help_, aliases)
        sp.add_argument("name")
        sp.add_argument("service_instance")
    cf_network.add_commands(add)
    return p


def main(argv: list[str] | None = None, out: Any = None, err: Any = None) -> int:
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "fn", None):
            parser.print_help(out or sys.stdout)
            return 0
        ctx = Context(out, err)
        return args.fn(ctx, args)
    except CFError as e:
        print("FAILED", file=err)
        print(str(e), file=err)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())


