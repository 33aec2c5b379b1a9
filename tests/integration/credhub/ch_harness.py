"""Loopback CredHub + service broker as subprocesses, with a PKI shaped like bundle.py's."""

from __future__ import annotations

import datetime as dt
import functools
import ssl
from pathlib import Path
from typing import Any

from foundry import httpclient
from foundry.pki import (
    Credential,
    app_organizational_units,
    issue_instance_identity,
    issue_leaf,
    new_ca,
    new_instance_guid,
)
from tests.support import REPO, free_port  # noqa: F401  (REPO: re-exported for the tests)
from tests.support import JobProcess as Proc
from tests.support import wait_for as _wait_for

wait_for = functools.partial(_wait_for, timeout=20.0)
BROKER_USER, BROKER_PASS = "broker", "s3cret"


class PKI:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.app_root = new_ca("appRootCA")
        self.identity = new_ca("instanceIdentityCA", issuer=self.app_root)
        self.service_ca = new_ca("serviceCfInternalCA")
        self.credhub = issue_leaf(self.service_ca, "credhub.service.cf.internal",
                                  dns_names=["credhub.service.cf.internal", "credhub",
                                             "localhost"], ip_addresses=["127.0.0.1"])
        self.broker = issue_leaf(self.service_ca, "service-broker", dns_names=["service-broker"],
                                 client_auth=True)
        self.write("credhub", self.credhub)
        self.write("broker", self.broker)
        (tmp / "mtls_trusted_cas.crt").write_bytes(self.app_root.cert_pem)
        (tmp / "client_cas.crt").write_bytes(self.service_ca.cert_pem)
        self.sys_certs = tmp / "cf-system-certificates"
        self.sys_certs.mkdir()
        (self.sys_certs / "system_ca.crt").write_bytes(self.service_ca.cert_pem)

    def write(self, name: str, cred: Credential) -> tuple[Path, Path]:
        c, k = self.tmp / f"{name}.crt", self.tmp / f"{name}.key"
        c.write_bytes(cred.chain_pem)
        k.write_bytes(cred.key_pem)
        return c, k

    def instance(self, app_guid: str, **kw: Any) -> Credential:
        ous = app_organizational_units("0d7f0c5e-1111-4111-8111-111111111111",
                                       "0d7f0c5e-2222-4222-8222-222222222222", app_guid)
        return issue_instance_identity(self.identity, new_instance_guid(), ous, "10.255.0.5",
                                       **kw)

    def expired_instance(self, app_guid: str) -> Credential:
        return self.instance(app_guid, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
                             validity=dt.timedelta(hours=1))


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pki = PKI(tmp)
        self.ch_port, self.broker_port = free_port(), free_port()
        self.credhub_url = f"https://127.0.0.1:{self.ch_port}"
        self.broker_url = f"http://127.0.0.1:{self.broker_port}"
        self.credhub = Proc(tmp, "credhub", "foundry.credhub", {
            "listen_address": f"127.0.0.1:{self.ch_port}",
            "cert_file": str(tmp / "credhub.crt"), "key_file": str(tmp / "credhub.key"),
            "mtls_trusted_cas": str(tmp / "mtls_trusted_cas.crt"),
            "client_cas": str(tmp / "client_cas.crt"), "db_path": str(tmp / "ch" / "ch.sqlite3"),
            "broker_actors": {"service-broker": "uaa-client:service-broker"}})
        self.broker = Proc(tmp, "broker", "foundry.service_broker", {
            "listen_address": f"127.0.0.1:{self.broker_port}", "credhub_url": self.credhub_url,
            "cert_file": str(tmp / "broker.crt"), "key_file": str(tmp / "broker.key"),
            "ca_file": str(self.pki.sys_certs / "system_ca.crt"), "broker_id": "cflab-broker",
            "db_path": str(tmp / "broker" / "b.sqlite3"), "username": BROKER_USER,
            "password": BROKER_PASS})

    def broker_cred(self) -> Credential:
        return self.pki.broker

    def start_credhub(self) -> None:
        self.credhub.start()
        wait_for(lambda: self.ch("GET", "/health")[0] == 200, what="credhub")

    def start(self) -> Stack:
        self.start_credhub()
        self.broker.start()
        wait_for(lambda: self.osb("GET", "/v2/catalog")[0] == 200, what="broker")
        return self

    def stop(self) -> None:
        self.broker.stop() if self.broker.proc else None
        self.credhub.stop()

    def client_ctx(self, cred: Credential | None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=self.pki.service_ca.cert_pem.decode())
        if cred is not None:
            name = f"client-{cred.cert.serial_number}"
            c, k = self.pki.write(name, cred)
            ctx.load_cert_chain(str(c), str(k))
        return ctx

    def ch(self, method: str, path: str, body: Any = None,
           cred: Credential | None = None) -> tuple[int, Any]:
        with httpclient.session(self.client_ctx(cred)) as http:
            resp = http.request(method, f"https://127.0.0.1:{self.ch_port}{path}", json=body,
                                timeout=10)
        return resp.status_code, resp.json() if resp.content else None

    def osb(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        with httpclient.session() as http:
            resp = http.request(method, f"http://127.0.0.1:{self.broker_port}{path}", json=body,
                                auth=(BROKER_USER, BROKER_PASS), timeout=15,
                                headers={"X-Broker-API-Version": "2.15"})
        return resp.status_code, resp.json() if resp.content else None

    def bind(self, instance_id: str, binding_id: str, app_guid: str) -> dict[str, Any]:
        from foundry.service_broker.broker import PLAN_ID, SERVICE_ID

        st, _ = self.osb("PUT", f"/v2/service_instances/{instance_id}",
                         {"service_id": SERVICE_ID, "plan_id": PLAN_ID,
                          "organization_guid": "o", "space_guid": "s"})
        assert st in (200, 201)
        st, body = self.osb("PUT", f"/v2/service_instances/{instance_id}/service_bindings/"
                            f"{binding_id}", {"service_id": SERVICE_ID, "plan_id": PLAN_ID,
                                              "bind_resource": {"app_guid": app_guid}})
        assert st == 201, body
        return body
