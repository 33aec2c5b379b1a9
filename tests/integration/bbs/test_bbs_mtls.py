"""The BBS's mutual TLS over loopback: who gets an answer and who is refused, and how."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from bbs_harness import REPO, cfdot, wait_for

from foundry.bbs.client import BBSClient, BBSUnavailable, client_tls
from tests.support import raw_exchange


def _raw_exchange(bbs, wrap=None) -> bytes:
    """One GET /v1/cells on a fresh connection (TLS-wrapped by `wrap`); all bytes back."""
    return raw_exchange(bbs.port, b"GET /v1/cells HTTP/1.1\r\nHost: bbs\r\n"
                                  b"Connection: close\r\n\r\n", wrap, timeout=5)


def test_plain_http_gets_gos_answer_and_no_data(bbs):
    reply = _raw_exchange(bbs)
    assert reply == (b"HTTP/1.0 400 Bad Request\r\n\r\n"
                     b"Client sent an HTTP request to an HTTPS server.\n")
    wait_for(lambda: "client sent an HTTP request to an HTTPS server" in bbs.logs(),
             what="the BBS logging the refusal")


def test_tls_without_a_client_certificate_is_refused(bbs):
    ctx = ssl.create_default_context(cafile=bbs.pki.ca_file)  # trusts the BBS, no cert
    try:
        reply = _raw_exchange(bbs, lambda s: ctx.wrap_socket(s, server_hostname="localhost"))
    except (ssl.SSLError, ConnectionError) as e:  # the server's alert, or a reset
        reply = repr(e).encode()
    assert b"HTTP/" not in reply and b"cell" not in reply, reply
    with pytest.raises(BBSUnavailable):
        BBSClient(bbs.url, timeout=5, tls=ctx).cells()


def test_a_certificate_from_another_ca_is_refused(bbs):
    ctx = client_tls(bbs.pki.ca_file, bbs.pki.stranger_cert, bbs.pki.stranger_key)
    with pytest.raises(BBSUnavailable):
        BBSClient(bbs.url, timeout=5, tls=ctx).cells()
    # the client may see the alert before the BBS has written its log line
    wait_for(lambda: "TLS handshake error" in bbs.logs(), what="the BBS logging the refusal")


def test_the_foundations_client_certificate_is_answered(bbs):
    bbs.heartbeat("cell-1")
    assert [c["cell_id"] for c in BBSClient.from_files(
        bbs.url, bbs.pki.ca_file, bbs.pki.client_cert, bbs.pki.client_key).cells()] == ["cell-1"]


def test_health_listener_is_plain_http_ping_only(bbs):
    with urllib.request.urlopen(f"http://127.0.0.1:{bbs.health_port}/ping", timeout=5) as r:
        assert r.status == 200
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{bbs.health_port}/v1/cells", timeout=5)
    assert err.value.code == 404


def test_an_https_address_needs_the_client_files():
    with pytest.raises(ValueError, match="mutual TLS needs"):
        BBSClient.from_files("https://bbs.service.cf.internal:8889", "ca.crt")


def _cfdot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "foundry.cli.cfdot", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=30,
                          env={**{k: v for k, v in os.environ.items()
                                  if k not in ("BBS_URL", "CA_CERT_FILE", "CLIENT_CERT_FILE",
                                               "CLIENT_KEY_FILE", "SKIP_CERT_VERIFY")},
                               "PYTHONPATH": str(REPO), **env})


def test_cfdot_takes_its_tls_settings_from_the_environment_as_on_a_cell(bbs):
    bbs.heartbeat("cell-1")
    proc = _cfdot({"BBS_URL": bbs.url, "CA_CERT_FILE": bbs.pki.ca_file,
                   "CLIENT_CERT_FILE": bbs.pki.client_cert,
                   "CLIENT_KEY_FILE": bbs.pki.client_key}, "cells")
    assert proc.returncode == 0, proc.stderr
    assert '"cell_id":"cell-1"' in proc.stdout


def test_cfdot_flags_and_their_other_names(bbs):
    bbs.heartbeat("cell-1")
    rc, cells, _ = cfdot(bbs, "cells")
    assert rc == 0 and [c["cell_id"] for c in cells] == ["cell-1"]
    proc = _cfdot({}, "--bbsURL", bbs.url, "--caCertFile", bbs.pki.ca_file,
                  "--clientCertPath", bbs.pki.client_cert, "--clientKeyPath",
                  bbs.pki.client_key, "cells")
    assert proc.returncode == 0, proc.stderr


def test_cfdot_without_tls_settings_says_what_is_missing(bbs):
    proc = _cfdot({"BBS_URL": bbs.url}, "cells")
    assert proc.returncode == 3
    assert ("--caCertFile must be specified if using HTTPS and --skipCertVerify is not set"
            in proc.stderr)
    proc = _cfdot({"BBS_URL": bbs.url, "CA_CERT_FILE": bbs.pki.ca_file}, "cells")
    assert proc.returncode == 3
    assert "--clientCertFile and --clientKeyFile must both be specified" in proc.stderr
    proc = _cfdot({"BBS_URL": bbs.url, "CA_CERT_FILE": "/nonexistent/ca.crt"}, "cells")
    assert proc.returncode == 3 and "CA cert file '/nonexistent/ca.crt'" in proc.stderr


def test_cfdot_without_a_client_certificate_cannot_read_the_bbs(bbs):
    # --skipCertVerify and a certificate the BBS does not trust: refused, exit 5
    proc = _cfdot({"BBS_URL": bbs.url, "SKIP_CERT_VERIFY": "true",
                   "CLIENT_CERT_FILE": bbs.pki.stranger_cert,
                   "CLIENT_KEY_FILE": bbs.pki.stranger_key}, "cells")
    assert proc.returncode == 5 and "unreachable" in proc.stderr, proc.stderr
    proc = _cfdot({"BBS_URL": bbs.url.replace("https:", "http:")}, "cells")
    assert proc.returncode != 0 and proc.stdout == ""
    assert "Client sent an HTTP request to an HTTPS server" in proc.stderr
