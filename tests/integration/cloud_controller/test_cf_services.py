"""cf marketplace / create-service / bind-service against the real broker and CredHub."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from cc_harness import Foundation

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "credhub"))
from ch_harness import BROKER_PASS, BROKER_USER, Stack  # noqa: E402


@pytest.fixture
def services(tmp_path):
    (tmp_path / "ch").mkdir()
    stack = Stack(tmp_path / "ch").start()
    f = Foundation(tmp_path, cc_extra={
        "service_broker_url": stack.broker_url, "service_broker_username": BROKER_USER,
        "service_broker_password": BROKER_PASS, "credhub_url": stack.credhub_url})
    f.start()
    try:
        r = f.cf("login", "-a", f.api, "--ca-cert", str(f.tmp / "ca.crt"), "-u", "admin",
                 "-p", "admin")
        assert r.returncode == 0, r.stderr
        yield f, stack
    finally:
        f.stop()
        stack.stop()


def test_create_bind_unbind_delete_service(services, tmp_path) -> None:
    f, stack = services
    r = f.cf("marketplace")
    assert r.returncode == 0, r.stderr
    assert "cflab-db" in r.stdout and "small" in r.stdout
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text("print('hi')\n")
    r = f.cf("push", "app-a", "-p", str(app_dir), "--no-start")
    assert r.returncode == 0, r.stdout + r.stderr
    r = f.cf("create-service", "cflab-db", "small", "db1")
    assert r.returncode == 0, r.stderr
    assert f.cf("create-service", "cflab-db", "huge", "db2").returncode == 1
    r = f.cf("bind-service", "app-a", "db1")
    assert r.returncode == 0, r.stderr
    assert "TIP: Use 'cf restage app-a'" in r.stdout
    r = f.cf("services")
    assert "db1" in r.stdout and "app-a" in r.stdout and "cflab-db" in r.stdout

    r = f.cf("env", "app-a")
    assert r.returncode == 0
    assert "credhub-ref" in r.stdout and "((/c/cflab-broker/" in r.stdout
    assert "password" not in r.stdout

    # the CC's database holds only the reference
    db = sqlite3.connect(tmp_path / "cc" / "cc.sqlite3")
    rows = [json.loads(c) for (c,) in db.execute("SELECT credentials FROM service_bindings")]
    assert len(rows) == 1 and set(rows[0]) == {"credhub-ref"}
    ref = rows[0]["credhub-ref"]

    # app-a's instance cert reads it through CredHub
    _, app = f.cc_get("/v2/apps?q=name:app-a")
    guid = app["resources"][0]["metadata"]["guid"]
    vcap = {"cflab-db": [{"name": "db1", "credentials": {"credhub-ref": ref}}]}
    st, out = stack.ch("POST", "/api/v1/interpolate", vcap, cred=stack.pki.instance(guid))
    assert st == 200 and "password" in out["cflab-db"][0]["credentials"]

    assert f.cf("delete-service", "db1", "-f").returncode == 1  # still bound
    r = f.cf("unbind-service", "app-a", "db1")
    assert r.returncode == 0, r.stderr
    st, _ = stack.ch("POST", "/api/v1/interpolate", vcap, cred=stack.pki.instance(guid))
    assert st in (403, 404)
    r = f.cf("delete-service", "db1", "-f")
    assert r.returncode == 0, r.stderr
    assert "No services found" in f.cf("services").stdout
