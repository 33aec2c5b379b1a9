"""What the proxy's unit and loopback tests share: the shared Envoy fixture files, filling
their PEM markers, and reading a proxy's admin endpoint."""

from __future__ import annotations

import pathlib

from foundry import httpclient

FIXTURES = pathlib.Path("/work/shared/fixtures")
if not FIXTURES.exists():
    FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "shared" / "fixtures"


def fill_markers(text: str, chain: bytes, key: bytes) -> str:
    """Replace ``__CERT_CHAIN__``/``__PRIVATE_KEY__`` lines with indented PEM."""
    out = []
    for line in text.splitlines():
        for marker, pem in (("__CERT_CHAIN__", chain), ("__PRIVATE_KEY__", key)):
            if line.strip() == marker:
                indent = line[: len(line) - len(line.lstrip())]
                out += [indent + p for p in pem.decode().strip().splitlines()]
                break
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def admin_get(port: int, path: str, method: str = "GET") -> tuple[int, str]:
    """(status, body) of an admin request on 127.0.0.1:`port`; an HTTP error is an answer."""
    with httpclient.session() as http:
        resp = http.request(method, f"http://127.0.0.1:{port}{path}", timeout=5)
    return resp.status_code, resp.content.decode()
