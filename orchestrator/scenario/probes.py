"""Direct access to an app instance's TLS port, bypassing the router.

This is what strict mode closes: anyone on the network who can reach
``<cell ip>:<host_tls_proxy_port>`` talks to the proxy. Without a client
certificate the strict proxy refuses the handshake; with the router's backend
certificate (``<project>_secrets-gorouter``: backends.crt/.key) it answers.
"""

from __future__ import annotations

import json
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


# -- CredHub secure service credentials ----------------------------------------------
#
# A bound app's VCAP_SERVICES holds only {"credhub-ref": "((/c/...))"} in the Cloud
# Controller. Inside an instance, the launcher posts it to CredHub's interpolate
# endpoint with the instance identity (mTLS); CredHub answers with the real values only
# to an app holding `read` on that name (actor mtls-app:<app guid>).

CREDHUB_INTERPOLATE = "https://credhub.service.cf.internal:8844/api/v1/interpolate"
SYSTEM_CA = "/etc/cf-system-certificates/system_ca.crt"
# The cell gives CF_INSTANCE_CERT/KEY to the app's process, not to the container, so a
# `docker exec` shell lacks them: fall back to where they always are.
INSTANCE_CERT = "/etc/cf-instance-credentials/instance.crt"
INSTANCE_KEY = "/etc/cf-instance-credentials/instance.key"
VCAP_FILE = "/tmp/cflab-probe-vcap.json"
ANSWER_FILE = "/tmp/cflab-probe-answer.json"


def vcap_services_from_env(cf_env_output: str) -> dict:
    """The VCAP_SERVICES object in `cf env APP`'s output ({} when there is none)."""
    at = cf_env_output.find('"VCAP_SERVICES"')
    if at < 0:
        return {}
    start = cf_env_output.find("{", at)
    if start < 0:
        return {}
    try:
        value = json.JSONDecoder().raw_decode(cf_env_output[start:])[0]
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def credhub_refs(vcap_services: dict) -> list[str]:
    """Every `credhub-ref` in a VCAP_SERVICES object."""
    return [e["credentials"]["credhub-ref"] for entries in vcap_services.values()
            if isinstance(entries, list) for e in entries
            if isinstance(e, dict) and isinstance(e.get("credentials"), dict)
            and "credhub-ref" in e["credentials"]]


def only_references(vcap_services: dict) -> ProbeResult:
    """The Cloud Controller's view: every binding's credentials are just a credhub-ref."""
    entries = [e for v in vcap_services.values() if isinstance(v, list) for e in v
               if isinstance(e, dict)]
    if not entries:
        return ProbeResult(False, "no bound services in VCAP_SERVICES")
    keys = sorted({k for e in entries for k in (e.get("credentials") or {})})
    ok = keys == ["credhub-ref"]
    refs = ", ".join(credhub_refs(vcap_services))
    return ProbeResult(ok, f"credentials keys {keys}" + (f": {refs}" if refs else ""))


_FIELDS = ("import json,sys; d=json.load(open(sys.argv[1])); print(sorted({k for v in d.values()"
           " for e in v for k in (e.get('credentials') or {})}))")


def interpolate_script() -> str:
    """curl in an app instance: its identity cert as client cert, CredHub's CA, the body
    from VCAP_FILE. Prints the HTTP status (000: no answer) on the first line, then on
    200 only the credential field names (the values never leave the container), else
    the error body and curl's message."""
    curl = ("curl -sS --max-time 10 -o " + ANSWER_FILE + " -w '%{http_code}'"
            f' --cert "${{CF_INSTANCE_CERT:-{INSTANCE_CERT}}}"'
            f' --key "${{CF_INSTANCE_KEY:-{INSTANCE_KEY}}}"'
            f" --cacert {SYSTEM_CA} -H 'Content-Type: application/json'"
            f" -X POST {CREDHUB_INTERPOLATE} -d @{VCAP_FILE}")
    return (f"code=$({curl} 2>/tmp/cflab-probe-err); echo \"$code\";"
            f" if [ \"$code\" = 200 ]; then python3 -c {shlex.quote(_FIELDS)} {ANSWER_FILE};"
            f" else head -c 300 {ANSWER_FILE} 2>/dev/null; echo; cat /tmp/cflab-probe-err; fi;"
            f" rm -f {ANSWER_FILE} {VCAP_FILE} /tmp/cflab-probe-err")


def judge_interpolate(output: str) -> tuple[int, str]:
    """(HTTP status, detail) from interpolate_script's output; 0 when curl got no answer."""
    lines = output.strip().splitlines()
    first = lines[0].strip() if lines else ""
    rest = " ".join(x.strip() for x in lines[1:] if x.strip())[:200]
    if not (first.isdigit() and len(first) == 3) or first == "000":
        return 0, f"no HTTP answer: {rest or output.strip()[:200]}"
    status = int(first)
    if status == 200:
        return 200, f"http 200: interpolated, credential fields {rest}"
    return status, f"http {status}: {rest}"


def credentials_masked(page: dict) -> ProbeResult:
    """The identity app's page lists interpolated service credentials with secrets masked
    (no credhub-ref left, and something was masked)."""
    creds = page.get("service_credentials") if isinstance(page, dict) else None
    if not isinstance(creds, dict) or not creds:
        return ProbeResult(False, "no service_credentials on the page")
    text = json.dumps(creds)
    if "credhub-ref" in text:
        return ProbeResult(False, f"not interpolated: {text[:200]}")
    if "****" not in text:
        return ProbeResult(False, f"nothing masked: {sorted(creds)}")
    fields = {name: sorted(v) if isinstance(v, dict) else type(v).__name__
              for name, v in creds.items()}
    return ProbeResult(True, f"masked credentials for {fields}")


# -- container to container ------------------------------------------------------------

NEIGHBOR_SCRIPT = """
import socket, sys
address, port = sys.argv[1], int(sys.argv[2])
try:
    s = socket.create_connection((address, port), 3)
except OSError as e:
    print("refused:", e.strerror or e)
    sys.exit(0)
s.settimeout(3)
try:
    s.sendall(b"GET / HTTP/1.0\\r\\nHost: neighbor\\r\\n\\r\\n")
    first = s.recv(200).split(b"\\r\\n")[0].decode("latin-1")
except OSError:
    first = ""
print("connected:", first or "(no answer)")
"""


def neighbor(from_container: str, address: str, port: int) -> ProbeResult:
    """From inside an app instance, as its user, a TCP connection straight to another
    container's address (no router, no cell DNAT); ok when it connects. Silk refuses
    these unless a network policy allows them."""
    proc = run(["docker", "exec", "-u", "vcap", from_container, "python3", "-c",
                NEIGHBOR_SCRIPT, address, str(port)], check=False, timeout=30)
    out = (proc.stdout + proc.stderr).decode(errors="replace").strip()
    last = out.splitlines()[-1] if out else f"docker exec exited {proc.returncode}"
    return ProbeResult(last.startswith("connected:"), f"{address}:{port} {last}"[:200])
