"""Loopback harness: the real BBS, UAA and CC as subprocesses, a fake cell thread, the real `cf`."""

from __future__ import annotations

import functools
import json
import os
import ssl
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path
from typing import Any

from foundry import httpclient
from foundry.bbs.client import client_tls
from foundry.pki import ca as pki
from orchestrator import config
from tests.support import REPO, free_port
from tests.support import JobProcess as Proc
from tests.support import wait_for as _wait_for

wait_for = functools.partial(_wait_for, timeout=20.0)


def http(method: str, url: str, body: Any = None, ctx: ssl.SSLContext | None = None,
         raw: bytes | None = None, token: str = "",
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if token:
        hdrs["Authorization"] = f"bearer {token}"
    with httpclient.session(ctx) as session:  # a RequestException is an OSError
        resp = session.request(method, url, data=data, headers=hdrs, timeout=10)
    out, status = resp.content, resp.status_code
    try:
        return status, json.loads(out) if out else None
    except ValueError:
        return status, out


def answers_200(url: str, ctx: ssl.SSLContext | None = None) -> bool:
    """True on a 200; anything else raises with what came back, for the wait's message."""
    status, body = http("GET", url, ctx=ctx)
    if status != 200:
        raise AssertionError(f"GET {url}: {status} {str(body)[:200]}")
    return True


class FakeCell(threading.Thread):
    """Plays a rep: heartbeats, downloads bits, claims and starts, removes what is stopped."""

    def __init__(self, bbs_url: str, bbs_ctx: ssl.SSLContext, cell_id: str = "cell-1",
                 address: str = "10.244.0.10", tls: bool = True) -> None:
        super().__init__(daemon=True)
        self.bbs, self.cell_id, self.address, self.tls = bbs_url, cell_id, address, tls
        self.bbs_http = functools.partial(http, ctx=bbs_ctx)
        self.halt = threading.Event()
        self.downloads: list[tuple[str, int, bytes]] = []
        self.next_port = 61000

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                self.tick()
            except OSError:
                pass
            self.halt.wait(0.1)

    def tick(self) -> None:
        http = self.bbs_http
        http("POST", f"{self.bbs}/v1/cells/{self.cell_id}/presence",
             {"cell_id": self.cell_id, "rep_address": "http://cell:1800", "zone": "z1",
              "capacity": {"containers": 100}})
        _, work = http("GET", f"{self.bbs}/v1/cells/{self.cell_id}/work")
        for item in work.get("to_start", []):
            d, a = item["desired_lrp"], item["actual_lrp"]
            url = d["setup"]["download"]["from"]
            with httpclient.session() as session:
                resp = session.get(url, timeout=10)
            self.downloads.append((url, resp.status_code, resp.content))
            ig = pki.new_instance_guid()
            key = {"process_guid": a["process_guid"], "index": a["index"],
                   "instance_guid": ig, "cell_id": self.cell_id}
            http("POST", f"{self.bbs}/v1/actual_lrps/claim", key)
            p = self.next_port
            self.next_port += 3
            ports = [{"container_port": 8080, "host_port": 0 if self.tls else p,
                      "container_tls_proxy_port": 61001 if self.tls else 0,
                      "host_tls_proxy_port": p + 1 if self.tls else 0},
                     {"container_port": 2222, "host_port": 0, "container_tls_proxy_port": 61002,
                      "host_tls_proxy_port": p + 2}]
            http("POST", f"{self.bbs}/v1/actual_lrps/start",
                 {**key, "address": self.address, "instance_address": "10.255.1.5",
                  "ports": ports, "preferred_address": "HOST"})
        for stop in work.get("to_stop", []):
            http("POST", f"{self.bbs}/v1/actual_lrps/remove", stop)

    def stop(self) -> None:
        self.halt.set()
        if self.ident is not None:  # started
            self.join(5)


class Foundation:
    def __init__(self, tmp: Path, mode: str = "strict", max_bits_bytes: int = 256 * 1024,
                 cc_extra: dict[str, Any] | None = None) -> None:
        self.tmp = tmp
        bbs_port, cc_port, int_port = free_port(), free_port(), free_port()
        uaa_port = free_port()
        self.uaa_url = f"https://127.0.0.1:{uaa_port}"
        self.bbs_url = f"https://127.0.0.1:{bbs_port}"
        self.api = f"https://127.0.0.1:{cc_port}"
        self.internal = f"http://127.0.0.1:{int_port}"
        root = pki.new_ca("cflab test root")
        leaf = pki.issue_leaf(root, "cloud-controller", dns_names=["localhost", "cloud-controller"],
                              ip_addresses=["127.0.0.1"])
        (tmp / "cc.crt").write_bytes(leaf.chain_pem)
        (tmp / "cc.key").write_bytes(leaf.key_pem)
        (tmp / "ca.crt").write_bytes(root.cert_pem)
        uaa_tls = pki.issue_leaf(root, "uaa", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
        signing = pki.issue_leaf(root, "uaa-jwt-signing", server_auth=False)
        (tmp / "uaa.crt").write_bytes(uaa_tls.chain_pem)
        (tmp / "uaa.key").write_bytes(uaa_tls.key_pem)
        (tmp / "jwt.key").write_bytes(signing.key_pem)
        (tmp / "jwt.crt").write_bytes(signing.cert_pem)
        self.ssl = ssl.create_default_context(cadata=root.cert_pem.decode())
        # The BBS's mutual TLS, as in a foundation: its server cert and a client cert for
        # the CC and the fake cell, from the same root.
        bbs_tls = pki.issue_leaf(root, "bbs.service.cf.internal", dns_names=["localhost"],
                                 ip_addresses=["127.0.0.1"])
        bbs_client = pki.issue_leaf(root, "bbs_client", server_auth=False, client_auth=True)
        for name, data in (("bbs.crt", bbs_tls.chain_pem), ("bbs.key", bbs_tls.key_pem),
                           ("bbs_client.crt", bbs_client.chain_pem),
                           ("bbs_client.key", bbs_client.key_pem)):
            (tmp / name).write_bytes(data)
        bbs_files = {"bbs_ca_cert_file": str(tmp / "ca.crt"),
                     "bbs_client_cert_file": str(tmp / "bbs_client.crt"),
                     "bbs_client_key_file": str(tmp / "bbs_client.key")}
        self.bbs_ctx = client_tls(*bbs_files.values())
        uaa_defaults = config.defaults()["uaa"]
        self.uaa = Proc(tmp, "uaa", "foundry.uaa", {
            "listen_address": f"127.0.0.1:{uaa_port}", "cert_file": str(tmp / "uaa.crt"),
            "key_file": str(tmp / "uaa.key"), "signing_key_file": str(tmp / "jwt.key"),
            "url": self.uaa_url, **config._uaa(uaa_defaults)})
        self.token = ""
        self.bbs = Proc(tmp, "bbs", "foundry.bbs", {
            "listen_address": f"127.0.0.1:{bbs_port}", "db_path": str(tmp / "bbs.sqlite3"),
            "convergence_interval": 0.5, "cell_presence_ttl": 5,
            "ca_file": str(tmp / "ca.crt"), "server_cert_file": str(tmp / "bbs.crt"),
            "server_key_file": str(tmp / "bbs.key")})
        self.cc = Proc(tmp, "cc", "foundry.cloud_controller", {
            "listen_address": f"127.0.0.1:{cc_port}", "cert_file": str(tmp / "cc.crt"),
            "key_file": str(tmp / "cc.key"), "internal_listen_address": f"127.0.0.1:{int_port}",
            "internal_url": self.internal, "db_path": str(tmp / "cc" / "cc.sqlite3"),
            "bits_dir": str(tmp / "bits"), "bbs_address": self.bbs_url, **bbs_files,
            "system_domain": "sys.cflab.test", "apps_domain": "apps.internal", "mode": mode,
            "max_bits_bytes": max_bits_bytes, "bbs_timeout": 5, "external_url": self.api,
            "uaa_url": self.uaa_url, "uaa_verification_key_file": str(tmp / "jwt.crt"),
            "app_ssh_endpoint": "127.0.0.1:2222", **(cc_extra or {})})
        self.cell = FakeCell(self.bbs_url, self.bbs_ctx)
        self.cf_home = tmp / "cfhome"

    def start(self) -> Foundation:
        """Start the jobs; a job that fails to start stops the ones already running."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> Foundation:
        self.uaa.start()
        self.bbs.start()
        # Up to 60 s each: CI runs these while the images build beside them (one CI run
        # saw the CC take over 20 s). A wrong answer names its status and body.
        wait_for(lambda: answers_200(f"{self.bbs_url}/ping", self.bbs_ctx), what="bbs",
                 timeout=60)
        self.cc.start()
        wait_for(lambda: answers_200(f"{self.internal}/healthz"), what="cc internal", timeout=60)
        wait_for(lambda: answers_200(f"{self.api}/healthz", self.ssl), what="cc api", timeout=60)
        wait_for(lambda: answers_200(f"{self.uaa_url}/healthz", self.ssl), what="uaa",
                 timeout=60)
        self.token = self.password_grant("admin", "admin")["access_token"]
        self.cell.start()
        return self

    def stop(self) -> None:
        self.cell.stop()
        self.cc.stop()
        self.bbs.stop()
        self.uaa.stop()

    def password_grant(self, username: str, password: str) -> dict[str, Any]:
        form = urllib.parse.urlencode({"grant_type": "password", "username": username,
                                       "password": password}).encode()
        status, body = http("POST", f"{self.uaa_url}/oauth/token", ctx=self.ssl, raw=form,
                            headers={"Authorization": "Basic Y2Y6",  # cf:
                                     "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200, body
        return body

    def cf(self, *args: str, timeout: float = 60, stdin: str = "") -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO), "CF_HOME": str(self.cf_home),
               "CF_STARTUP_TIMEOUT": "0.5"}
        return subprocess.run([sys.executable, "-m", "foundry.cli.cf", *args], input=stdin,
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)

    def desired(self) -> list[dict[str, Any]]:
        return http("GET", f"{self.bbs_url}/v1/desired_lrps", ctx=self.bbs_ctx)[1]

    def cc_get(self, path: str) -> tuple[int, Any]:
        return http("GET", self.api + path, ctx=self.ssl, token=self.token)
