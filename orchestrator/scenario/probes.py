"""Direct access to an app instance's TLS port, bypassing the router.

This is what strict mode closes: anyone on the network who can reach
``<cell ip>:<host_tls_proxy_port>`` talks to the proxy. Without a client
certificate the strict proxy refuses the handshake; with the router's backend
certificate (``<project>_secrets-gorouter``: backends.crt/.key) it answers.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from orchestrator.docker_cli import LABEL, run
from orchestrator.scenario.faults import HELPER_IMAGE

SECRETS_MOUNT = "/secrets"


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str


def curl_script(address: str, port: int, client_cert: bool, server_name: str = "") -> str:
    """The curl line; with `server_name` the instance cert is verified against the CA."""
    target = f"https://{address}:{port}/"
    args = ["curl", "-sS", "--max-time", "5", "-w", "\\n%{http_code}"]
    if server_name and client_cert:
        args += ["--cacert", f"{SECRETS_MOUNT}/ca_certs.crt",
                 "--resolve", f"{server_name}:{port}:{address}"]
        target = f"https://{server_name}:{port}/"
    else:
        args.append("-k")
    if client_cert:
        args += ["--cert", f"{SECRETS_MOUNT}/backends.crt",
                 "--key", f"{SECRETS_MOUNT}/backends.key"]
    return " ".join(shlex.quote(a) for a in args) + " " + shlex.quote(target) + " 2>&1"


def judge(output: str, app_name: str) -> ProbeResult:
    """200 with the app's identity in the body = reached the app."""
    lines = output.strip().splitlines()
    code = lines[-1].strip() if lines else ""
    body = "\n".join(lines[:-1])
    ok = code == "200" and app_name in body
    summary = body.strip().splitlines()[0][:160] if body.strip() else ""
    return ProbeResult(ok, f"http {code or '-'}: {summary}".strip())


def from_cell(cell_container: str, address: str, port: int, app_name: str) -> ProbeResult:
    """No client certificate, from the cell itself (a neighbour on the network)."""
    proc = run(["docker", "exec", cell_container, "sh", "-c",
                curl_script(address, port, client_cert=False)], check=False, timeout=30)
    return judge((proc.stdout + proc.stderr).decode(errors="replace"), app_name)


def with_router_cert(project: str, address: str, port: int, app_name: str,
                     instance_guid: str) -> ProbeResult:
    """The router's backend certificate, from a helper on the foundation network."""
    proc = run(["docker", "run", "--rm", "--network", f"{project}_foundation",
                "--label", f"{LABEL}={project}",
                "-v", f"{project}_secrets-gorouter:{SECRETS_MOUNT}:ro",
                "--entrypoint", "sh", HELPER_IMAGE, "-c",
                curl_script(address, port, client_cert=True, server_name=instance_guid)],
               check=False, timeout=60)
    return judge((proc.stdout + proc.stderr).decode(errors="replace"), app_name)
