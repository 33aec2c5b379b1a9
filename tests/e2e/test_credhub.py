"""Secure service credentials on a real foundation: the broker keeps them in CredHub, the
app's launcher fetches them with its instance identity, other apps are refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.helpers import inside, through_router, wait_for

pytestmark = pytest.mark.e2e
APP_DIR = str(Path(__file__).resolve().parents[2] / "foundry" / "apps" / "identity")
INTERPOLATE = ("curl -s -o /tmp/answer.json -w '%{http_code}'"
               " --cert /etc/cf-instance-credentials/instance.crt"
               " --key /etc/cf-instance-credentials/instance.key"
               " --cacert /etc/cf-system-certificates/system_ca.crt -H 'Content-Type: application/json'"
               " -X POST https://credhub.service.cf.internal:8844/api/v1/interpolate -d @/tmp/vcap.json")



def instance_of(cfg, host: str) -> str:
    status, headers, _ = through_router(cfg, host)
    assert status == 200
    return headers["X-Cf-Instance-Guid"]


def me(cfg, host: str) -> dict:
    status, _, body = through_router(cfg, host)
    return json.loads(body) if status == 200 else {}


def env_of(cf, app: str) -> dict:
    out = cf("env", app).stdout
    start = out.index("{", out.index("VCAP_SERVICES"))
    return json.JSONDecoder().raw_decode(out[start:])[0]


def interpolate_from(instance: str, vcap_services: dict) -> int:
    subprocess.run(["docker", "exec", "-i", instance, "sh", "-c", "cat > /tmp/vcap.json"],
                   input=json.dumps(vcap_services).encode(), check=True)
    proc = subprocess.run(["docker", "exec", instance, "sh", "-c", INTERPOLATE],
                          capture_output=True, text=True)
    assert proc.stdout.strip().isdigit(), (proc.stdout, proc.stderr)
    return int(proc.stdout)


@pytest.fixture(scope="module")
def bound(cfg, cf):
    cf("push", "vault-a", "-p", APP_DIR)
    cf("push", "vault-b", "-p", APP_DIR)
    cf("create-service", "cflab-db", "small", "db-a")
    cf("bind-service", "vault-a", "db-a")
    cf("restart", "vault-a")
    wait_for(lambda: me(cfg, "vault-a.apps.internal").get("service_credentials"), 90,
             what="vault-a with its bound service")
    return env_of(cf, "vault-a")


def test_cloud_controller_holds_only_the_reference(bound):
    creds = bound["cflab-db"][0]["credentials"]
    assert list(creds) == ["credhub-ref"]
    assert creds["credhub-ref"].startswith("((/c/cflab-broker/")


def running_environ(cfg) -> dict[str, str]:
    """The environment of vault-a's app process, as the app itself sees it."""
    instance = instance_of(cfg, "vault-a.apps.internal")
    # Anchored: testinfra runs it under `sh -c`, whose own command line holds the pattern.
    pid = inside(instance).check_output("pgrep -f %s", "^python3 app.py").split()[-1]
    # As vcap: reading another user's environ would need CAP_SYS_PTRACE.
    environ = inside(instance, "vcap").file(f"/proc/{pid}/environ").content.decode().split("\0")
    return dict(v.split("=", 1) for v in environ if "=" in v)


def running_credentials(cfg) -> dict:
    return json.loads(running_environ(cfg)["VCAP_SERVICES"])["cflab-db"][0]["credentials"]


def test_the_running_app_has_the_real_credentials(cfg, bound):
    creds = running_credentials(cfg)
    assert "credhub-ref" not in creds and creds["password"] and creds["username"]
    assert "VCAP_PLATFORM_OPTIONS" not in running_environ(cfg)
    shown = me(cfg, "vault-a.apps.internal")["service_credentials"]
    assert creds["password"] not in json.dumps(shown)  # masked on the page


def test_another_apps_certificate_is_refused(cfg, bound):
    b = instance_of(cfg, "vault-b.apps.internal")
    assert interpolate_from(b, bound) == 403
    a = instance_of(cfg, "vault-a.apps.internal")
    assert interpolate_from(a, bound) == 200


def test_a_still_reads_after_its_certificate_rotates(cfg, bound):
    first = me(cfg, "vault-a.apps.internal")
    wait_for(lambda: me(cfg, "vault-a.apps.internal").get("certificate", {}).get("serial")
             not in (None, first["certificate"]["serial"]),
             cfg.timings["instance_identity_validity_period"] + 30, interval=0.5,
             what="vault-a's certificate to rotate")
    assert interpolate_from(instance_of(cfg, "vault-a.apps.internal"), bound) == 200


def test_nothing_secret_in_the_cloud_controllers_database(foundation, cfg, bound):
    cc = foundation.job_states()["cloud-controller"]["container"]
    dump = inside(cc).run("cat /var/vcap/store/cloud_controller/cc.sqlite3*").stdout_bytes
    assert b"credhub-ref" in dump
    password = running_credentials(cfg)["password"]
    assert password.encode() not in dump


def test_unbinding_removes_the_permission(cfg, cf, bound):
    cf("unbind-service", "vault-a", "db-a")
    code = interpolate_from(instance_of(cfg, "vault-a.apps.internal"), bound)
    assert code in (403, 404)
