"""Run the BBS as a subprocess on a free loopback port with a temp SQLite db.

By default it runs as the foundation runs it: mutual TLS with certificates from a CA made
for the test (`BBSPKI`); `tls=False` gives the plain-HTTP BBS."""

from __future__ import annotations

import functools
import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from foundry.bbs.client import client_tls
from foundry.pki.ca import Credential, issue_leaf, new_ca
from tests.support import REPO, JobProcess, free_port, wait_for


class BBSPKI:
    """The foundation's shape in small: a CA, the BBS's server certificate, a client's;
    and a second CA with a client certificate the BBS must not accept."""

    def __init__(self, where: Path) -> None:
        where.mkdir(parents=True, exist_ok=True)
        self.ca, self.other_ca = _cas()
        server, client, stranger = _leaves()
        self.ca_file = self._write(where / "ca.crt", self.ca.cert_pem)
        self.server_cert = self._write(where / "bbs.crt", server.chain_pem)
        self.server_key = self._write(where / "bbs.key", server.key_pem)
        self.client_cert = self._write(where / "client.crt", client.chain_pem)
        self.client_key = self._write(where / "client.key", client.key_pem)
        self.stranger_cert = self._write(where / "stranger.crt", stranger.chain_pem)
        self.stranger_key = self._write(where / "stranger.key", stranger.key_pem)

    @staticmethod
    def _write(path: Path, data: bytes) -> str:
        path.write_bytes(data)
        if path.suffix == ".key":
            path.chmod(0o600)
        return str(path)

    def client_context(self) -> ssl.SSLContext:
        return client_tls(self.ca_file, self.client_cert, self.client_key)

    def client_config(self) -> dict[str, str]:
        """What a BBS client job's config names (rep, route emitter, CC, dashboard)."""
        return {"bbs_ca_cert_file": self.ca_file, "bbs_client_cert_file": self.client_cert,
                "bbs_client_key_file": self.client_key}


@functools.cache
def _cas() -> tuple[Credential, Credential]:
    return new_ca("serviceCfInternalCA"), new_ca("someoneElsesCA")


@functools.cache
def _leaves() -> tuple[Credential, Credential, Credential]:
    ca, other = _cas()
    return (issue_leaf(ca, "bbs.service.cf.internal", dns_names=["bbs.service.cf.internal",
                                                                 "localhost"],
                       ip_addresses=["127.0.0.1"], server_auth=True, client_auth=True),
            issue_leaf(ca, "bbs_client", server_auth=False, client_auth=True),
            issue_leaf(other, "bbs_client", server_auth=False, client_auth=True))


class BBSProcess(JobProcess):
    def __init__(self, tmp: Path, tls: bool = True, **config: Any) -> None:
        self.port = free_port()
        self.health_port = free_port()
        self.pki = BBSPKI(tmp / "bbs-pki") if tls else None
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.ctx = self.pki.client_context() if self.pki else None
        tls_config = {"ca_file": self.pki.ca_file, "server_cert_file": self.pki.server_cert,
                      "server_key_file": self.pki.server_key} if self.pki else {}
        super().__init__(tmp, "bbs", "foundry.bbs", {
            "listen_address": f"127.0.0.1:{self.port}", "db_path": str(tmp / "bbs.sqlite3"),
            "health_address": f"127.0.0.1:{self.health_port}",
            "convergence_interval": 0.5, "cell_presence_ttl": 6, "restart_backoff_base": 1,
            "restart_backoff_max": 4, **tls_config, **config})

    def start(self) -> BBSProcess:
        super().start()
        wait_for(lambda: self.request("GET", "/ping")[0] == 200, what="bbs /ping")
        return self

    def client_config(self) -> dict[str, str]:
        """`bbs_address` and the client certificate files, as the jobs' configs take them."""
        return {"bbs_address": self.url, **(self.pki.client_config() if self.pki else {})}

    def cfdot_flags(self) -> list[str]:
        flags = ["--bbsURL", self.url]
        if self.pki:
            flags += ["--caCertFile", self.pki.ca_file, "--clientCertFile",
                      self.pki.client_cert, "--clientKeyFile", self.pki.client_key]
        return flags

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5, context=self.ctx) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None

    def heartbeat(self, cell_id: str, zone: str = "z1") -> None:
        status, _ = self.request("POST", f"/v1/cells/{cell_id}/presence",
                                 {"cell_id": cell_id, "rep_address": f"http://{cell_id}:1800",
                                  "zone": zone, "capacity": {"containers": 10}})
        assert status == 200


def cfdot(bbs: BBSProcess | str, *args: str) -> tuple[int, list[Any], str]:
    """cfdot against `bbs` (a BBSProcess: its URL and, with TLS, the client's files)."""
    flags = bbs.cfdot_flags() if isinstance(bbs, BBSProcess) else ["--bbsURL", bbs]
    proc = subprocess.run([sys.executable, "-m", "foundry.cli.cfdot", *flags, *args],
                          capture_output=True, text=True, cwd=REPO, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc.returncode, lines, proc.stdout
