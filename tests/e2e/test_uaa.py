"""UAA and real Cloud Foundry clients against a live foundation.

`cf login` in a fresh CF_HOME; cloudfoundry-client (PyPI) logging in through `GET /`
links and UAA's password grant; chaostoolkit-cloud-foundry's actions with their effect
seen on the platform; an app that listens where cfenv's `AppEnv()` says.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from foundry import httpclient
from tests.e2e.helpers import through_router, wait_for

pytestmark = pytest.mark.e2e

CFENV_APP = """\
import json, os
from http.server import BaseHTTPRequestHandler, HTTPServer
from cfenv import AppEnv

env = AppEnv()

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"app": env.name, "bind": env.bind, "port": env.port,
                           "index": env.index, "vcap": env.app,
                           "guid": os.environ["CF_INSTANCE_GUID"]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

HTTPServer((env.bind, env.port), H).serve_forever()
"""
VENDORED = ("cfenv", "furl", "orderedmultidict", "six")  # cfenv and what it imports


def api(cfg) -> str:
    return f"https://127.0.0.1:{cfg.ports['cloud_controller']}"


@pytest.fixture(scope="module")
def ca_file(foundation, tmp_path_factory) -> str:
    cfg = json.loads((foundation.cf_home / ".cf" / "config.json").read_text())
    path = tmp_path_factory.mktemp("ca") / "ca.crt"
    path.write_text(cfg["CFLabCACert"])
    return str(path)


@pytest.fixture(scope="module")
def cfenv_app(cf, tmp_path_factory):
    """An app that imports cfenv (vendored, as a real push would carry it) and binds to
    `AppEnv().bind`: it passes its health check only if VCAP_APPLICATION says 0.0.0.0."""
    d = tmp_path_factory.mktemp("cfenv-app")
    (d / "app.py").write_text(CFENV_APP)
    for name in VENDORED:
        module = importlib.import_module(name)
        package = list(getattr(module, "__path__", None) or [])  # six: a module, [] path
        if package:
            shutil.copytree(package[0], d / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(module.__file__, d / Path(module.__file__).name)
    cf("push", "envy", "-p", str(d), "-i", "2")
    return "envy.apps.internal"


def answer(cfg, host: str) -> dict | None:
    status, _, body = through_router(cfg, host)
    return json.loads(body) if status == 200 else None


def test_cf_login_in_a_fresh_home(foundation, cfg, tmp_path):
    env = {"CF_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def cf(*args):
        return subprocess.run([sys.executable, "-m", "foundry.cli.cf", *args],
                              capture_output=True, text=True, env=env, timeout=60)

    r = cf("login", "-a", api(cfg), "-u", "admin", "-p", "wrong", "--skip-ssl-validation")
    assert r.returncode == 1 and "Credentials were rejected" in r.stderr
    r = cf("login", "-a", api(cfg), "-u", "admin", "-p", "admin", "--skip-ssl-validation")
    assert r.returncode == 0, r.stderr
    assert "Targeted org cflab-org" in r.stdout
    assert cf("apps").returncode == 0
    saved = json.loads((tmp_path / ".cf" / "config.json").read_text())
    assert saved["Target"] == api(cfg) and saved["AccessToken"].startswith("bearer ")
    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
    with httpclient.session(insecure) as http:
        anonymous = http.get(f"{api(cfg)}/v2/apps", timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error_code"] == \
        "CF-NotAuthenticated"
    secret_free = subprocess.run(["docker", "logs", foundation.job_states()["uaa"]["container"]],
                                 capture_output=True, text=True).stderr
    assert "POST /oauth/token 200" in secret_free and "wrong" not in secret_free


def test_cfenv_app_binds_where_vcap_application_says(cfg, cfenv_app):
    seen = wait_for(lambda: answer(cfg, cfenv_app), 90, what="the cfenv app through the router")
    assert seen["bind"] == "0.0.0.0" and seen["port"] == 8080 and seen["app"] == "envy"
    vcap = seen["vcap"]
    assert vcap["instance_id"] == seen["guid"] and vcap["instance_index"] == seen["index"]
    assert vcap["application_uris"] == ["envy.apps.internal"] and vcap["limits"]["mem"] > 0


def test_cloudfoundry_client(cfg, ca_file, cfenv_app):
    from cloudfoundry_client.client import CloudFoundryClient

    client = CloudFoundryClient(api(cfg), verify=ca_file)
    client.init_with_user_credentials("admin", "admin")
    [app] = list(client.v2.apps.list(name="envy"))
    guid = app["metadata"]["guid"]
    assert client.v3.apps.get(guid)["name"] == "envy"
    assert "envy" in [a["name"] for a in client.v3.apps.list()]
    wait_for(lambda: all(s["state"] == "RUNNING"
                         for s in client.v2.apps.get_stats(guid).values()), 60,
             what="both instances RUNNING in v2 stats")
    assert set(client.v2.apps.get_instances(guid)) == {"0", "1"}
    stats = client.v3.processes.get(guid, "stats")
    assert sorted(r["index"] for r in stats["resources"]) == [0, 1]
    assert "envy" in [r["entity"]["host"] for r in client.v2.routes.list()]


def test_real_ssh_through_the_ssh_proxy(cfg, cf, cfenv_app, tmp_path):
    """cf ssh, then a bare OpenSSH client with a `cf ssh-code` code, reach instance 0 as
    vcap with the instance's environment; a used code is refused."""
    guid = json.loads(cf("curl", "/v2/apps?q=name:envy").stdout)["resources"][0][
        "metadata"]["guid"]
    stats = json.loads(cf("curl", f"/v3/processes/{guid}/stats").stdout)["resources"]
    ig0 = next(s["instance_guid"] for s in stats if s["index"] == 0)
    out = cf("ssh", "envy", "-c", "echo $CF_INSTANCE_GUID $(id -un) $PWD; echo $VCAP_SERVICES"
             ).stdout.split()
    assert out[:3] == [ig0, "vcap", "/home/vcap"] and out[3].startswith("{")
    code = cf("ssh-code").stdout.strip()
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho {code}\n")
    askpass.chmod(0o700)

    def ssh(index: int) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ssh", "-p", str(cfg.ports["ssh_proxy"]), "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no",
             "-o", "NumberOfPasswordPrompts=1", "-T", f"cf:{guid}/{index}@127.0.0.1",
             "echo $CF_INSTANCE_INDEX"], capture_output=True, text=True, timeout=60,
            stdin=subprocess.DEVNULL,
            env={"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force",
                 "DISPLAY": ":0", "PATH": "/usr/bin:/bin"})

    first = ssh(1)
    assert (first.returncode, first.stdout.strip()) == (0, "1"), first.stderr
    again = ssh(1)  # the code was used up
    assert again.returncode == 255 and "Permission denied" in again.stderr


def test_chaostoolkit_actions_show_on_the_platform(cfg, cf, cfenv_app, ca_file):
    from chaoscf import actions

    configuration = {"cf_api_url": api(cfg), "cf_verify_ssl": ca_file}
    secrets = {"cf_username": "admin", "cf_password": "admin"}
    guid = json.loads(cf("curl", "/v2/apps?q=name:envy").stdout)["resources"][0][
        "metadata"]["guid"]

    def instance_guids() -> dict[int, str]:
        stats = json.loads(cf("curl", f"/v3/processes/{guid}/stats").stdout)["resources"]
        return {s["index"]: s["instance_guid"] for s in stats if s["state"] == "RUNNING"}

    before = wait_for(lambda: (g := instance_guids()) and len(g) == 2 and g, 60,
                      what="two running instances")
    actions.terminate_app_instance("envy", 0, configuration, secrets)
    after = wait_for(lambda: (g := instance_guids()) and len(g) == 2 and g[0] != before[0]
                     and g, 60, what="instance 0 back with a new guid")
    assert after[1] == before[1]  # only the terminated instance was replaced
    actions.stop_app("envy", configuration, secrets)
    wait_for(lambda: through_router(cfg, cfenv_app)[0] in (404, 503), 60,
             what="the stopped app's route to fail")
    actions.start_app("envy", configuration, secrets)
    wait_for(lambda: answer(cfg, cfenv_app), 90, what="envy answering again")
    actions.unmap_route_from_app("envy", "envy", configuration, secrets)
    wait_for(lambda: through_router(cfg, cfenv_app)[0] == 404, 60,
             what="the unmapped route to 404")


def test_the_real_clients_are_installed():
    """They are dev extras: a missing one must fail here, not skip silently above."""
    for name in ("cloudfoundry_client", "chaoscf", "cfenv"):
        assert importlib.util.find_spec(name) is not None, name
