"""CredHub, the broker and the launcher over real TLS on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import uuid

from ch_harness import REPO, Stack

from foundry.pki import issue_leaf, new_ca

NOT_FOUND_TEXT = ("The request could not be completed because the credential does not exist "
                  "or you do not have sufficient authorization.")


def vcap(ref: str) -> dict:
    return {"cflab-db": [{"name": "db", "label": "cflab-db", "plan": "small",
                          "credentials": {"credhub-ref": ref}}]}


def test_broker_stores_grants_and_app_reads_via_interpolate(stack: Stack) -> None:
    app_a, app_b = str(uuid.uuid4()), str(uuid.uuid4())
    iid, bid = str(uuid.uuid4()), str(uuid.uuid4())
    body = stack.bind(iid, bid, app_a)
    ref = body["credentials"]["credhub-ref"]
    assert ref.startswith("((/c/cflab-broker/") and ref.endswith(f"/{bid}/credentials))")
    assert set(body["credentials"]) == {"credhub-ref"}

    st, out = stack.ch("POST", "/api/v1/interpolate", vcap(ref), cred=stack.pki.instance(app_a))
    assert st == 200, out
    creds = out["cflab-db"][0]["credentials"]
    assert set(creds) >= {"uri", "username", "password"}
    uri = urllib.parse.urlsplit(creds["uri"])
    assert (urllib.parse.unquote(uri.username or ""), urllib.parse.unquote(uri.password or "")) \
        == (creds["username"], creds["password"])

    # a rotated (newly issued) certificate of the same app still works
    st, out2 = stack.ch("POST", "/api/v1/interpolate", vcap(ref), cred=stack.pki.instance(app_a))
    assert st == 200 and out2 == out

    # another app's instance cert: 403 with CredHub's text
    st, err = stack.ch("POST", "/api/v1/interpolate", vcap(ref), cred=stack.pki.instance(app_b))
    assert (st, err) == (403, {"error": NOT_FOUND_TEXT})
    st, err = stack.ch("GET", f"/api/v1/data?name={ref[2:-2]}", cred=stack.pki.instance(app_b))
    assert st == 403

    # app A can GET its credential directly, too
    st, data = stack.ch("GET", f"/api/v1/data?name={ref[2:-2]}&current=true",
                        cred=stack.pki.instance(app_a))
    assert st == 200 and data["data"][0]["value"] == creds and data["data"][0]["type"] == "json"

    # the log never holds the secret
    assert creds["password"] not in stack.credhub.logs()
    assert creds["password"] not in stack.broker.logs()

    # unbind: the permission and credential are gone, A gets 404/403
    st, _ = stack.osb("DELETE", f"/v2/service_instances/{iid}/service_bindings/{bid}"
                      "?service_id=x&plan_id=y")
    assert st == 200
    st, _ = stack.ch("POST", "/api/v1/interpolate", vcap(ref), cred=stack.pki.instance(app_a))
    assert st in (403, 404)
    st, _ = stack.ch("GET", f"/api/v2/permissions?path={ref[2:-2]}&actor=mtls-app:{app_a}",
                     cred=stack.broker_cred())
    assert st == 404


def test_unbind_revokes_permission_even_if_credential_is_recreated(stack: Stack) -> None:
    app_a = str(uuid.uuid4())
    iid, bid = str(uuid.uuid4()), str(uuid.uuid4())
    ref = stack.bind(iid, bid, app_a)["credentials"]["credhub-ref"]
    name = ref[2:-2]
    st, _ = stack.osb("DELETE", f"/v2/service_instances/{iid}/service_bindings/{bid}")
    assert st == 200
    # the broker (creator) writes the name again without granting: A has no access any more
    st, _ = stack.ch("PUT", "/api/v1/data", {"name": name, "type": "json", "value": {"a": 1}},
                     cred=stack.pki.broker)
    assert st == 200
    st, err = stack.ch("POST", "/api/v1/interpolate", vcap(ref), cred=stack.pki.instance(app_a))
    assert (st, err) == (403, {"error": NOT_FOUND_TEXT})


def test_authentication_failures_are_401_with_json(stack: Stack) -> None:
    app = str(uuid.uuid4())
    body = vcap("((/c/x/y/z/credentials))")
    st, err = stack.ch("POST", "/api/v1/interpolate", body)
    assert st == 401 and "Full authentication" in err["error"]
    st, err = stack.ch("POST", "/api/v1/interpolate", body, cred=stack.pki.expired_instance(app))
    assert st == 401 and "expired" in err["error"]
    no_client_auth = issue_leaf(stack.pki.identity, "x", org_units=[f"app:{app}"],
                                server_auth=True, client_auth=False)
    st, err = stack.ch("POST", "/api/v1/interpolate", body, cred=no_client_auth)
    assert st == 401 and "client authentication" in err["error"]
    other_root = new_ca("rogueRoot")
    other_int = new_ca("rogueIntermediate", issuer=other_root)
    rogue = issue_leaf(other_int, "x", org_units=[f"app:{app}"], client_auth=True)
    st, err = stack.ch("POST", "/api/v1/interpolate", body, cred=rogue)
    assert st == 401 and "trusted" in err["error"]
    no_ou = issue_leaf(stack.pki.identity, "x", client_auth=True)
    st, err = stack.ch("POST", "/api/v1/interpolate", body, cred=no_ou)
    assert st == 401 and "valid identity" in err["error"]
    logs = stack.credhub.logs()
    assert "401 (no client certificate)" in logs and "401 (leaf lacks EKU clientAuth)" in logs


def test_reference_errors_and_missing_credential(stack: Stack) -> None:
    cred = stack.pki.instance(str(uuid.uuid4()))
    st, err = stack.ch("POST", "/api/v1/interpolate", vcap("/c/no-parens"), cred=cred)
    assert st == 400 and "malformed" in err["error"]
    st, err = stack.ch("POST", "/api/v1/interpolate", vcap("((/c/none/credentials))"), cred=cred)
    assert (st, err) == (404, {"error": NOT_FOUND_TEXT})
    st, _ = stack.ch("POST", "/api/v1/interpolate", {"svc": [{"credentials": {"a": 1}}]},
                     cred=cred)
    assert st == 200


def test_data_persists_across_restart(stack: Stack) -> None:
    app = str(uuid.uuid4())
    ref = stack.bind(str(uuid.uuid4()), str(uuid.uuid4()), app)["credentials"]["credhub-ref"]
    st, before = stack.ch("POST", "/api/v1/interpolate", vcap(ref), cred=stack.pki.instance(app))
    assert st == 200
    stack.credhub.stop()
    stack.start_credhub()
    st, after = stack.ch("POST", "/api/v1/interpolate", vcap(ref), cred=stack.pki.instance(app))
    assert st == 200 and after == before


def test_launcher_interpolates_before_exec(stack: Stack) -> None:
    app = str(uuid.uuid4())
    ref = stack.bind(str(uuid.uuid4()), str(uuid.uuid4()), app)["credentials"]["credhub-ref"]
    inst = stack.pki.instance(app)
    cert, key = stack.pki.write("instance", inst)
    appdir = stack.tmp / "app"
    appdir.mkdir()
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO),
           "VCAP_SERVICES": json.dumps(vcap(ref)),
           "VCAP_PLATFORM_OPTIONS": json.dumps({"credhub-uri": stack.credhub_url}),
           "CF_INSTANCE_CERT": str(cert), "CF_INSTANCE_KEY": str(key),
           "CF_SYSTEM_CERT_PATH": str(stack.pki.sys_certs)}
    child = ("python3 -c 'import json,os; print(json.dumps({\"svc\": os.environ[\"VCAP_SERVICES\"],"
             " \"opts\": os.environ.get(\"VCAP_PLATFORM_OPTIONS\")}))'")
    r = subprocess.run([sys.executable, "-m", "foundry.launcher", str(appdir), child],
                       env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert seen["opts"] is None
    creds = json.loads(seen["svc"])["cflab-db"][0]["credentials"]
    assert set(creds) >= {"uri", "username", "password"} and "credhub-ref" not in creds

    # app B's cert: the launcher fails clearly and non-zero (after its retries)
    other, okey = stack.pki.write("other", stack.pki.instance(str(uuid.uuid4())))
    r = subprocess.run([sys.executable, "-m", "foundry.launcher", str(appdir), "echo started"],
                       env={**env, "CF_INSTANCE_CERT": str(other), "CF_INSTANCE_KEY": str(okey)},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "started" not in r.stdout
    assert "Unable to interpolate credhub references" in r.stderr and "403" in r.stderr
