"""The DesiredLRP for a started app, as CC's ``app_recipe_builder.rb`` builds it (sans-IO).

Everything here is a pure function of CC records, so the recipe the cells run can be
checked in unit tests field by field.
"""

from __future__ import annotations

import json
from typing import Any

DOMAIN = "cf-apps"
APP_PORT = 8080
SSH_PORT = 2222
DEFAULT_COMMAND = "python3 app.py"
START_TIMEOUT_MS = 60_000
FDS_QUOTA = 16384
MIN_CPU_PROXY_MB = 128   # cpu_weight_min_memory
BASE_WEIGHT_MB = 8192    # cpu_weight_max_memory: 100 % weight


def cpu_weight(memory_mb: int) -> int:
    """``TaskCpuWeightCalculator``: 100 × clamp(memory, 128, 8192) / 8192."""
    return 100 * min(max(memory_mb, MIN_CPU_PROXY_MB), BASE_WEIGHT_MB) // BASE_WEIGHT_MB


def lrp_process_guid(process_guid: str, version_guid: str) -> str:
    """CC's ``ProcessGuid.from_process``: process guid + '-' + version, new every start."""
    return f"{process_guid}-{version_guid}"


def route_uri(route: dict[str, Any], domain_name: str) -> str:
    """``host.domain[/path]``, the string gorouter and cf show for a route."""
    fqdn = f"{route['host']}.{domain_name}" if route["host"] else domain_name
    return fqdn + (route.get("path") or "")


def start_command(app: dict[str, Any]) -> str:
    """`-c CMD`, else the Procfile's ``web:`` line found at upload, else the default."""
    return app.get("command") or app.get("detected_start_command") or DEFAULT_COMMAND


def procfile_web_command(procfile: str) -> str:
    for line in procfile.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "web" and value.strip():
            return value.strip()
    return ""


def cf_routes(uris: list[str]) -> dict[str, Any]:
    return {"cf-router": [{"hostnames": list(uris), "port": APP_PORT,
                           "route_service_url": None, "protocol": "http1"}]}


def vcap_application(app: dict[str, Any], space: dict[str, Any], org: dict[str, Any],
                     uris: list[str], cf_api: str) -> dict[str, Any]:
    """CF's VCAP_APPLICATION (``vcap_application_env``); instance fields come from the cell."""
    version = app.get("version_guid") or ""
    return {
        "cf_api": cf_api,
        "limits": {"fds": FDS_QUOTA, "mem": app["memory"], "disk": app["disk_quota"]},
        "application_name": app["name"],
        "application_uris": list(uris),
        "name": app["name"],
        "space_name": space["name"],
        "space_id": space["guid"],
        "organization_id": org["guid"],
        "organization_name": org["name"],
        "uris": list(uris),
        "process_id": app["guid"],
        "process_type": "web",
        "application_id": app["guid"],
        "version": version,
        "application_version": version,
    }


def vcap_services(bindings: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Grouped by service label. Credentials are passed through untouched, so a
    ``{"credhub-ref": "((/c/...))"}`` object reaches the launcher for interpolation."""
    out: dict[str, list[dict[str, Any]]] = {}
    for b in sorted(bindings, key=lambda b: (b["label"], b["name"])):
        out.setdefault(b["label"], []).append({
            "label": b["label"],
            "provider": None,
            "plan": b["plan"],
            "name": b["name"],
            "tags": list(b.get("tags") or []),
            "instance_guid": b["service_instance_guid"],
            "instance_name": b["name"],
            "binding_guid": b["guid"],
            "binding_name": None,
            "credentials": b.get("credentials") or {},
            "syslog_drain_url": None,
            "volume_mounts": [],
        })
    return out


def bits_url(internal_url: str, app_guid: str, sha256: str) -> str:
    return f"{internal_url.rstrip('/')}/internal/v1/bits/{app_guid}/{sha256}.tgz"


def build_desired_lrp(
    app: dict[str, Any],
    space: dict[str, Any],
    org: dict[str, Any],
    uris: list[str],
    bindings: list[dict[str, Any]],
    *,
    internal_url: str,
    cf_api: str,
    credhub_url: str = "",
) -> dict[str, Any]:
    if not app.get("version_guid"):
        raise ValueError("app has no version guid: it must be started")
    if not app.get("bits_sha256"):
        raise ValueError("app has no bits")
    user_env = app.get("environment_json") or {}
    env = [{"name": k, "value": str(v)} for k, v in sorted(user_env.items())]
    env += [
        {"name": "VCAP_APPLICATION",
         "value": json.dumps(vcap_application(app, space, org, uris, cf_api))},
        {"name": "VCAP_SERVICES", "value": json.dumps(vcap_services(bindings))},
        {"name": "MEMORY_LIMIT", "value": f"{app['memory']}m"},
        {"name": "PORT", "value": str(APP_PORT)},
        {"name": "LANG", "value": "en_US.UTF-8"},
    ]
    if credhub_url:
        env.append({"name": "VCAP_PLATFORM_OPTIONS",
                    "value": json.dumps({"credhub-uri": credhub_url})})
    return {
        "process_guid": lrp_process_guid(app["guid"], app["version_guid"]),
        "domain": DOMAIN,
        "rootfs": "preloaded:cflinuxfs3",
        "instances": app["instances"],
        "env": env,
        "setup": {"download": {"from": bits_url(internal_url, app["guid"], app["bits_sha256"]),
                               "to": "/home/vcap/app", "user": "vcap"}},
        "action": {"run": {"path": "/tmp/lifecycle/launcher",
                           "args": ["/home/vcap/app", start_command(app), ""],
                           "user": "vcap"}},
        "start_timeout_ms": START_TIMEOUT_MS,
        "monitor": {"run": {"path": "/tmp/lifecycle/healthcheck",
                            "args": [f"-port={APP_PORT}"], "user": "vcap"}},
        "memory_mb": app["memory"],
        "disk_mb": app["disk_quota"],
        "cpu_weight": cpu_weight(app["memory"]),
        "ports": [APP_PORT, SSH_PORT],
        "routes": cf_routes(uris),
        "log_guid": app["guid"],
        "log_source": "CELL",
        "metrics_guid": app["guid"],
        "metric_tags": {"app_id": app["guid"], "app_name": app["name"]},
        "certificate_properties": {"organizational_unit": [
            f"organization:{org['guid']}", f"space:{space['guid']}", f"app:{app['guid']}"]},
        "annotation": json.dumps({"app_name": app["name"], "start_command": start_command(app)}),
    }

