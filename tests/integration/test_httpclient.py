"""foundry.httpclient on loopback: requests over a prepared TLS context, mutual TLS included."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from foundry import httpclient
from foundry.pki import issue_leaf, new_ca


class _WhoAmI(BaseHTTPRequestHandler):
    """Answers with the client certificate's CN, "-" without one (HTTP/1.0: no length)."""

    log_message = staticmethod(lambda *args: None)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        subject = (self.request.getpeercert() or {}).get("subject", ())
        self.send_response(200)
        self.end_headers()
        self.wfile.write(dict(x[0] for x in subject).get("commonName", "-").encode())


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    ca = new_ca("labCA")
    server = issue_leaf(ca, "server", ip_addresses=["127.0.0.1"])
    client = issue_leaf(ca, "the-client", server_auth=False, client_auth=True)
    for name, cred in (("server", server), ("client", client)):
        (d / f"{name}.crt").write_bytes(cred.chain_pem)
        (d / f"{name}.key").write_bytes(cred.key_pem)
    (d / "ca.crt").write_bytes(ca.cert_pem)
    sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(d / "ca.crt"))
    sctx.load_cert_chain(d / "server.crt", d / "server.key")
    sctx.verify_mode = ssl.CERT_OPTIONAL  # a client without a certificate still gets in
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _WhoAmI)
    srv.socket = sctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield d, f"https://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_the_context_carries_the_lab_ca_and_the_client_certificate(lab):
    d, url = lab
    ctx = ssl.create_default_context(cadata=(d / "ca.crt").read_text())
    assert httpclient.session(ctx).get(url, timeout=5).text == "-"
    ctx.load_cert_chain(d / "client.crt", d / "client.key")
    assert httpclient.session(ctx).get(url, timeout=5).text == "the-client"


def test_a_context_without_the_lab_ca_is_refused_with_the_tls_reason(lab):
    _, url = lab
    with pytest.raises(requests.exceptions.SSLError) as e:
        httpclient.session(ssl.create_default_context()).get(url, timeout=5)
    assert "CERTIFICATE_VERIFY_FAILED" in httpclient.reason(e.value)


def test_skip_validation_is_the_contexts_choice(lab):
    _, url = lab
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    assert httpclient.session(ctx).get(url, timeout=5).status_code == 200


def test_reason_names_the_socket_error_not_urllib3s_wrapper():
    with pytest.raises(requests.ConnectionError) as e:
        httpclient.session().get("http://127.0.0.1:1/", timeout=5)
    assert httpclient.reason(e.value) == "[Errno 111] Connection refused"
