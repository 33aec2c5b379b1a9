"""Talk to a running foundation: the BBS API, the router's /routes, cfdot, proxies.

Everything here is I/O; the runner keeps the decisions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundry.bbs.client import BBSClient
from foundry.cloud_controller.recipe import cpu_weight
from orchestrator.config import FoundationConfig
from orchestrator.docker_cli import run
from orchestrator.render import state_dir

if TYPE_CHECKING:
    from orchestrator.scenario.schema import App

ROUTER_STATUS = "router-status:router-status"


def process_guid(project: str, app: App) -> str:
    return f"{project}-{app.name}-pg"


def app_guid(app: App) -> str:
    return f"{app.name}-app-guid"


def desired_lrp(project: str, app: App) -> dict[str, Any]:
    """A desired LRP running the identity sample app, as Cloud Controller would desire it."""
    vcap = {"application_name": app.name, "application_id": app_guid(app),
            "application_uris": [app.host]}
    return {
        "process_guid": process_guid(project, app), "domain": "cf-apps",
        "instances": app.instances, "ports": [8080, 2222],
        "routes": {"cf-router": [{"hostnames": [app.host], "port": 8080}]},
        "log_guid": app_guid(app),
        "certificate_properties": {"organizational_unit": [
            "organization:scenario-org", "space:scenario-space", f"app:{app_guid(app)}"]},
        "env": [{"name": "VCAP_APPLICATION", "value": json.dumps(vcap)},
                *({"name": k, "value": v} for k, v in app.env)],
        **({"memory_mb": app.memory, "cpu_weight": cpu_weight(app.memory)} if app.memory else {}),
        "setup": {"download": {"from": "file:///opt/cflab/apps/identity",
                               "to": "/home/vcap/app"}},
        "action": {"run": {"path": "/tmp/lifecycle/launcher",
                           "args": ["/home/vcap/app", "python3 app.py", ""], "user": "vcap"}},
    }


def bbs_client(cfg: FoundationConfig) -> BBSClient:
    """The foundation's BBS through its port published on 127.0.0.1, with the host
    user's client certificate `cflab up` wrote (the BBS is mutual TLS only)."""
    certs = state_dir(cfg.project) / "cfdot"
    return BBSClient.from_files(f"https://127.0.0.1:{cfg.ports['bbs']}",
                                str(certs / "ca.crt"), str(certs / "client.crt"),
                                str(certs / "client.key"))


def containers_of(project: str, pg: str) -> list[str]:
    out = run(["docker", "ps", "-q", "--filter", f"label=cflab.foundation={project}",
               "--filter", f"label=cflab.process-guid={pg}"], check=False).stdout.decode()
    return out.split()


def app_containers(project: str) -> list[str]:
    """Names of every app container of the foundation (named by instance guid)."""
    out = run(["docker", "ps", "--format", "{{.Names}}\t{{.Label \"cflab.instance-guid\"}}",
               "--filter", f"label=cflab.foundation={project}"], check=False).stdout.decode()
    return [line.split("\t")[0] for line in out.splitlines()
            if "\t" in line and line.split("\t")[1]]


def router_routes(router_container: str) -> dict[str, Any]:
    proc = run(["docker", "exec", router_container, "curl", "-s", "-u", ROUTER_STATUS,
                "127.0.0.1:8082/routes"], check=False, timeout=15)
    try:
        return json.loads(proc.stdout or b"{}")
    except ValueError:
        return {}


def exec_text(container: str, *cmd: str, timeout: float = 20) -> str:
    proc = run(["docker", "exec", container, *cmd], check=False, timeout=timeout)
    return (proc.stdout + proc.stderr).decode(errors="replace")


def cfdot(cell_container: str, *args: str) -> str:
    """cfdot on a cell, as an operator runs it there: no flags, the cell's environment
    names the BBS and cfdot's certificate."""
    return exec_text(cell_container, "cfdot", *args)


def proxy_certs(instance_container: str) -> str:
    return exec_text(instance_container, "curl", "-s", "127.0.0.1:61004/certs")


# -- the Cloud Controller, through the `cf` CLI ---------------------------------------

IDENTITY_APP_DIR = Path(__file__).resolve().parents[2] / "foundry" / "apps" / "identity"


class CFError(RuntimeError):
    """A `cf` command failed; the message has its output."""


class CF:
    """`python -m foundry.cli.cf` with CF_HOME pointing at the foundation's config."""

    def __init__(self, cf_home: Path) -> None:
        self.env = dict(os.environ, CF_HOME=str(cf_home))

    def __call__(self, *args: str, check: bool = True, timeout: float = 300) -> str:
        proc = subprocess.run([sys.executable, "-m", "foundry.cli.cf", *args],
                              capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-6:]
            raise CFError(f"cf {' '.join(args)} failed ({proc.returncode}): "
                          + " | ".join(tail))
        return proc.stdout

    def curl(self, path: str) -> Any:
        return json.loads(self("curl", path))

    def app(self, name: str) -> dict[str, Any] | None:
        found = self.curl(f"/v2/apps?q=name:{name}").get("resources") or []
        return found[0] if found else None

    def process_guid(self, name: str) -> str:
        """The LRP's process guid: app guid + version (a new version every start)."""
        app = self.app(name)
        if app is None:
            raise CFError(f"the Cloud Controller has no app {name!r}")
        version = app["entity"].get("version")
        if app["entity"].get("state") != "STARTED" or not version:
            return f"{app['metadata']['guid']}-stopped"
        return f"{app['metadata']['guid']}-{version}"

    def service_instance_exists(self, name: str) -> bool:
        return bool(self.curl(f"/v2/service_instances?q=name:{name}").get("resources"))

    def push(self, name: str, host: str, instances: int) -> str:
        return self("push", name, "-p", str(IDENTITY_APP_DIR), "-i", str(instances),
                    "--hostname", host)


def exec_with_input(container: str, script: str, data: bytes, timeout: float = 30) -> str:
    """`sh -c script` in the container with `data` on stdin."""
    proc = run(["docker", "exec", "-i", container, "sh", "-c", script], input=data,
               check=False, timeout=timeout)
    return (proc.stdout + proc.stderr).decode(errors="replace")
