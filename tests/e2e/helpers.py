"""Helpers shared by the e2e tests."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import requests
import testinfra
from testinfra.host import Host

from foundry import httpclient
from tests import support

CONFIG = Path(__file__).with_name("foundation.yml")
wait_for = functools.partial(support.wait_for, interval=0.25)


def cflab(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--config", str(CONFIG), *args],
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"cflab {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def docker_json(*args: str):
    return json.loads(subprocess.run(["docker", *args], capture_output=True, check=True).stdout)


def bbs(cfg, method: str, path: str, body=None):
    """Call the BBS through its port on 127.0.0.1, with the one BBS client."""
    from orchestrator.scenario.platform import bbs_client

    return bbs_client(cfg).call(method, path, body)


def inside(container: str, user: str | None = None) -> Host:
    """testinfra's view of a container (`docker exec` underneath): `.run(cmd, *args)`
    quotes each arg, `.file(path)`, `.process`, `.socket`... Commands run under `sh -c`,
    so a `pgrep -f`/`pkill -f` pattern must be anchored (`^python3 app.py`) or it matches
    that shell too. A test that feeds stdin or streams output keeps `docker exec`:
    testinfra's run has neither."""
    return testinfra.get_host(f"docker://{user + '@' if user else ''}{container}")


def http_get(url: str, timeout: float = 10, **kwargs) -> requests.Response:
    """One GET from the host to a published 127.0.0.1 port (no proxy from the environment)."""
    with httpclient.session() as http:
        return http.get(url, timeout=timeout, **kwargs)


def through_router(cfg, host: str, timeout: float = 10):
    """(status, headers, body) of a GET through the router on 127.0.0.1."""
    resp = http_get(f"http://127.0.0.1:{cfg.ports['http']}/", timeout, headers={"Host": host},
                    allow_redirects=False)
    return resp.status_code, dict(resp.headers), resp.content


def identity_lrp(process_guid: str, app_guid: str, host: str, name: str, instances: int = 1) -> dict:
    """A desired LRP running the identity sample app from the stack image."""
    vcap = {"application_name": name, "application_id": app_guid, "application_uris": [host]}
    return {
        "process_guid": process_guid, "domain": "cf-apps", "instances": instances,
        "ports": [8080, 2222],
        "routes": {"cf-router": [{"hostnames": [host], "port": 8080}]},
        "log_guid": app_guid,
        "certificate_properties": {"organizational_unit": [
            "organization:e2e-org", "space:e2e-space", f"app:{app_guid}"]},
        "env": [{"name": "VCAP_APPLICATION", "value": json.dumps(vcap)}],
        "setup": {"download": {"from": "file:///opt/cflab/apps/identity", "to": "/home/vcap/app"}},
        "action": {"run": {"path": "/tmp/lifecycle/launcher",
                           "args": ["/home/vcap/app", "python3 app.py", ""], "user": "vcap"}},
    }
