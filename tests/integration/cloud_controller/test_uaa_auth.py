"""UAA and the CC's token check over loopback HTTPS, with the `cf` CLI and real CF clients."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from cc_harness import http, wait_for

from foundry.uaa.jwt import SigningKey


def test_cc_requires_a_valid_token(foundation):
    api = foundation.api
    status, body = http("GET", f"{api}/v2/apps", ctx=foundation.ssl)
    assert (status, body["error_code"], body["code"]) == (401, "CF-NotAuthenticated", 10002)
    status, body = http("GET", f"{api}/v3/apps", ctx=foundation.ssl, token="x.y.z")
    assert status == 401 and body["errors"][0]["title"] == "CF-InvalidAuthToken"
    assert body["errors"][0]["code"] == 1000
    head, claims, sig = foundation.token.split(".")
    tampered = f"{head}.{claims[:-4]}AAAA.{sig}"
    assert http("GET", f"{api}/v2/apps", ctx=foundation.ssl, token=tampered)[0] == 401
    # a token this UAA's key signed, but expired
    key = SigningKey.from_pem("key-1", (foundation.tmp / "jwt.key").read_bytes())
    now = int(time.time())
    expired = key.sign({"jti": "j", "scope": ["cloud_controller.admin"], "user_name": "admin",
                        "aud": ["cloud_controller"], "iat": now - 100, "exp": now - 10})
    status, body = http("GET", f"{api}/v2/apps", ctx=foundation.ssl, token=expired)
    assert (status, body["error_code"]) == (401, "CF-InvalidAuthToken")
    # the discovery endpoints answer without a token and point at the host's addresses
    status, root = http("GET", f"{api}/", ctx=foundation.ssl)
    assert status == 200 and root["links"]["uaa"]["href"] == foundation.uaa_url
    assert root["links"]["login"]["href"] == foundation.uaa_url
    assert root["links"]["self"]["href"] == api
    status, info = http("GET", f"{api}/v2/info", ctx=foundation.ssl)
    assert info["token_endpoint"] == foundation.uaa_url
    assert info["app_ssh_endpoint"] == "127.0.0.1:2222"


def test_uaa_errors_over_http(foundation):
    def grant(form, auth="Basic Y2Y6"):
        return http("POST", f"{foundation.uaa_url}/oauth/token", ctx=foundation.ssl,
                    raw=urllib.parse.urlencode(form).encode(),
                    headers={"Authorization": auth,
                             "Content-Type": "application/x-www-form-urlencoded"})

    status, body = grant({"grant_type": "password", "username": "admin", "password": "wrong"})
    assert (status, body) == (401, {"error": "unauthorized",
                                    "error_description": "Bad credentials"})
    assert grant({"username": "admin"})[0] == 400
    assert grant({"grant_type": "nonsense"})[0] == 400
    assert grant({"grant_type": "password"}, auth="Basic !!!")[0] == 401
    logs = foundation.uaa.logs()
    assert "wrong" not in logs and foundation.token not in logs
    assert "POST /oauth/token 401" in logs


def test_cf_login_tokens_and_ssh_code(foundation, cf):
    r = cf("oauth-token")
    assert r.returncode == 0 and r.stdout.startswith("bearer ey")
    r = cf("ssh-code")
    assert r.returncode == 0 and len(r.stdout.strip()) == 10
    code = r.stdout.strip()
    status, body = http("POST", f"{foundation.uaa_url}/oauth/token", ctx=foundation.ssl,
                        raw=urllib.parse.urlencode({"grant_type": "authorization_code",
                                                    "code": code,
                                                    "redirect_uri": "/login"}).encode(),
                        headers={"Authorization": "Basic c3NoLXByb3h5OnNzaC1wcm94eS1zZWNyZXQ=",
                                 "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and body["access_token"]  # ssh-proxy:ssh-proxy-secret redeems it
    r = cf("login", "-a", foundation.api, "--skip-ssl-validation", "-u", "admin",
           "-p", "nope")
    assert r.returncode == 1 and "Credentials were rejected" in r.stderr
    r = cf("logout")
    assert r.returncode == 0
    r = cf("apps")
    assert r.returncode == 1 and "Not logged in" in r.stderr
    r = cf("auth", "admin", "admin")
    assert r.returncode == 0 and cf("apps").returncode == 0
    config = json.loads((foundation.cf_home / ".cf" / "config.json").read_text())
    assert config["Target"] == foundation.api and config["AccessToken"].startswith("bearer ")
    assert config["RefreshToken"]
    # a broken access token: the CC says 401 and cf refreshes it once, then succeeds
    config["AccessToken"] = "bearer broken"
    (foundation.cf_home / ".cf" / "config.json").write_text(json.dumps(config))
    assert cf("apps").returncode == 0


def test_cloudfoundry_client(foundation, cf, tmp_path):
    client_mod = pytest.importorskip("cloudfoundry_client.client")
    d = tmp_path / "app"
    d.mkdir()
    (d / "app.py").write_text("print('hi')\n")
    assert cf("push", "web", "-p", str(d), "-i", "1").returncode == 0
    ca = str(foundation.tmp / "ca.crt")
    client = client_mod.CloudFoundryClient(foundation.api, verify=ca)
    client.init_with_user_credentials("admin", "admin")
    [app] = [a for a in client.v2.apps.list(name="web")]
    guid = app["metadata"]["guid"]
    assert client.v2.apps.get(guid)["entity"]["name"] == "web"
    assert [a["name"] for a in client.v3.apps.list()] == ["web"]
    assert client.v3.apps.get(guid)["name"] == "web"
    assert "web" in [r["entity"]["host"] for r in client.v2.routes.list()]
    wait_for(lambda: client.v2.apps.get_stats(guid)["0"]["state"] == "RUNNING",
             what="stats through cloudfoundry-client")
    assert set(client.v2.apps.get_instances(guid)) == {"0"}
    assert [r["index"] for r in client.v3.processes.get(guid, "stats")["resources"]] == [0]
    assert "VCAP_APPLICATION" in client.v3.apps.get_env(guid)["application_env_json"]
    assert [o["name"] for o in client.v3.organizations.list()] == ["cflab-org"]
    assert [s["name"] for s in client.v3.spaces.list()] == ["dev"]
    assert [d["name"] for d in client.v3.domains.list()] == ["apps.internal"]
    assert list(client.v3.service_credential_bindings.list()) == []
    client.v2.apps.stop(guid)
    assert client.v2.apps.get(guid)["entity"]["state"] == "STOPPED"
    client.v2.apps.start(guid)
    assert client.v2.apps.get(guid)["entity"]["state"] == "STARTED"
    # what `cf login` left behind is what build_from_cf_config reads (it refreshes)
    from_config = client_mod.CloudFoundryClient.build_from_cf_config(
        str(foundation.cf_home), verify=ca)
    assert [a["entity"]["name"] for a in from_config.v2.apps.list()] == ["web"]


def test_chaostoolkit_cloud_foundry_actions(foundation, cf, tmp_path):
    from chaoscf import actions

    d = tmp_path / "app"
    d.mkdir()
    (d / "app.py").write_text("print('hi')\n")
    assert cf("push", "web", "-p", str(d), "-i", "2").returncode == 0
    configuration = {"cf_api_url": foundation.api, "cf_verify_ssl": str(foundation.tmp / "ca.crt")}
    secrets = {"cf_username": "admin", "cf_password": "admin"}
    _, apps = foundation.cc_get("/v2/apps?q=name:web")
    guid = apps["resources"][0]["metadata"]["guid"]

    def instances() -> dict[int, str]:
        stats = foundation.cc_get(f"/v3/processes/{guid}/stats")[1]["resources"]
        return {s["index"]: s["instance_guid"] for s in stats if s["state"] == "RUNNING"}

    before = wait_for(lambda: (i := instances()) and len(i) == 2 and i, what="2 running")
    actions.terminate_app_instance("web", 0, configuration, secrets)
    after = wait_for(lambda: (i := instances()) and len(i) == 2 and i[0] != before[0] and i,
                     what="instance 0 replaced")
    assert after[1] == before[1]
    actions.stop_app("web", configuration, secrets)
    assert foundation.cc_get(f"/v2/apps/{guid}")[1]["entity"]["state"] == "STOPPED"
    actions.start_app("web", configuration, secrets)
    assert foundation.cc_get(f"/v2/apps/{guid}")[1]["entity"]["state"] == "STARTED"
    actions.unmap_route_from_app("web", "web", configuration, secrets)
    assert foundation.cc_get(f"/v2/apps/{guid}/routes")[1]["total_results"] == 0
