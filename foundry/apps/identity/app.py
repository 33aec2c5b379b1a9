"""The identity sample app: answers with who it is, so a misroute shows in one curl.

Stdlib only (it runs on the stack's python3). JSON by default, HTML for a browser.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, urlunsplit

SECRET_WORDS = ("password", "secret", "key", "token", "private")
MASK = "****"


def certificate() -> dict[str, str]:
    path = os.environ.get("CF_INSTANCE_CERT", "")
    try:
        out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-enddate", "-in", path],
                             capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {"serial": fields.get("serial", ""), "not_after": fields.get("notAfter", "")}


def mask_uri(value: str) -> str:
    """``scheme://user:pass@host/...`` with the password replaced by ****."""
    try:
        u = urlsplit(value)
    except ValueError:
        return value
    if not u.scheme or u.password is None:
        return value
    host = u.hostname or ""
    if u.port:
        host += f":{u.port}"
    return urlunsplit((u.scheme, f"{u.username}:{MASK}@{host}", u.path, u.query, u.fragment))


def mask_credentials(creds: object) -> object:
    """Show what interpolation delivered without showing secrets: names and URIs stay,
    passwords, keys and tokens become ****; an uninterpolated credhub-ref is shown as is."""
    if isinstance(creds, dict):
        out = {}
        for k, v in creds.items():
            if k in ("credhub-ref", "credhub_ref"):
                out[k] = v
            elif any(w in k.lower() for w in SECRET_WORDS) and not isinstance(v, (dict, list)):
                out[k] = MASK
            else:
                out[k] = mask_credentials(v)
        return out
    if isinstance(creds, list):
        return [mask_credentials(v) for v in creds]
    if isinstance(creds, str) and "://" in creds:
        return mask_uri(creds)
    return creds


def service_credentials(services: dict) -> dict:
    return {e.get("name", ""): mask_credentials(e.get("credentials") or {})
            for entries in services.values() if isinstance(entries, list)
            for e in entries if isinstance(e, dict)}


def identity() -> dict:
    app = json.loads(os.environ.get("VCAP_APPLICATION") or "{}")
    services = json.loads(os.environ.get("VCAP_SERVICES") or "{}")
    return {
        "app_name": app.get("application_name") or os.environ.get("APP_NAME", "unknown"),
        "app_guid": app.get("application_id", ""),
        "instance_index": os.environ.get("CF_INSTANCE_INDEX", ""),
        "instance_guid": os.environ.get("CF_INSTANCE_GUID", ""),
        "cell_ip": os.environ.get("CF_INSTANCE_IP", ""),
        "internal_ip": os.environ.get("CF_INSTANCE_INTERNAL_IP", ""),
        "instance_ports": json.loads(os.environ.get("CF_INSTANCE_PORTS") or "[]"),
        "certificate": certificate(),
        "services": sorted(name for entries in services.values() for name in
                           (e.get("name", "") for e in entries)),
        "service_credentials": service_credentials(services),
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        me = identity()
        if "text/html" in self.headers.get("Accept", ""):
            rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                           for k, v in me.items())
            body = f"<html><body><h1>{html.escape(me['app_name'])}</h1><table>{rows}</table>" \
                   "</body></html>"
            ctype = "text/html; charset=utf-8"
        else:
            body, ctype = json.dumps(me) + "\n", "application/json"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Cf-App-Name", me["app_name"])
        self.send_header("X-Cf-Instance-Guid", me["instance_guid"])
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: object) -> None:
        print(f"{self.address_string()} {fmt % args}", flush=True)


def hoard_memory() -> None:
    """Allocate (and touch) memory until the kernel's OOM killer ends the process."""
    hoard = []
    while True:
        hoard.append(b"x" * (4 * 1024 * 1024))
        time.sleep(0.01)


def oom_if_asked() -> None:
    """A fault for scenarios: instances whose index is in CFLAB_OOM_INDEX (comma list)
    start hoarding memory CFLAB_OOM_AFTER seconds after start, so they crash-loop."""
    indexes = [i.strip() for i in os.environ.get("CFLAB_OOM_INDEX", "").split(",") if i.strip()]
    if os.environ.get("CF_INSTANCE_INDEX", "") in indexes:
        after = float(os.environ.get("CFLAB_OOM_AFTER", "5"))
        print(f"instance {os.environ['CF_INSTANCE_INDEX']} will exceed its memory limit in "
              f"{after:g}s", flush=True)
        threading.Timer(after, hoard_memory).start()


IDLE_POLL_S = 3600.0


def main() -> None:
    oom_if_asked()
    port = int(os.environ.get("PORT", "8080"))
    # serve_forever's poll interval only bounds how soon shutdown() is noticed, which
    # nothing calls (the app ends on a signal); its 0.5 s default woke each of 100
    # instances twice a second for nothing (~1.5% of a core between them).
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever(poll_interval=IDLE_POLL_S)


if __name__ == "__main__":
    main()
