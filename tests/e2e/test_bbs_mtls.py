"""The BBS on a running foundation answers only mutual TLS, on the host's published port
too: plain HTTP and certificate-less TLS are refused; the host user's cfdot, with what
`cflab up` wrote, reads it."""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import sys

from tests.support import REPO, raw_exchange

CELLS = b"GET /v1/cells HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def _exchange(port: int, wrap=None) -> bytes:
    return raw_exchange(port, CELLS, wrap)


def test_plain_http_on_the_published_port_is_refused(foundation, cfg):
    assert _exchange(cfg.ports["bbs"]) == (b"HTTP/1.0 400 Bad Request\r\n\r\n"
                                           b"Client sent an HTTP request to an HTTPS server.\n")


def test_tls_without_a_client_certificate_is_refused(foundation, cfg):
    ctx = ssl.create_default_context(cafile=str(foundation.cfdot_dir / "ca.crt"))
    try:
        reply = _exchange(cfg.ports["bbs"],
                          lambda s: ctx.wrap_socket(s, server_hostname="127.0.0.1"))
    except (ssl.SSLError, ConnectionError) as e:  # the BBS's alert, or a reset
        reply = repr(e).encode()
    assert b"HTTP/" not in reply and b"cell_id" not in reply, reply


def test_the_host_users_cfdot_reads_the_bbs_with_what_up_wrote(foundation, cfg):
    certs = foundation.cfdot_dir
    assert stat.S_IMODE((certs / "client.key").stat().st_mode) == 0o600
    setup = (certs / "setup").read_text()
    assert f"export BBS_URL=https://127.0.0.1:{cfg.ports['bbs']}\n" in setup
    # `source setup; cfdot cells`, as the summary of `cflab up` says
    proc = subprocess.run(["bash", "-c", f"source {certs / 'setup'} && "
                           f"{sys.executable} -m foundry.cli.cfdot cells"],
                          capture_output=True, text=True, cwd=REPO, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert {f"cell-{n}" for n in range(1, cfg.cells + 1)} <= {
        line.split('"cell_id":"')[1].split('"')[0] for line in proc.stdout.splitlines()}


def test_status_says_how_to_use_cfdot(foundation, cfg):
    from tests.e2e.helpers import cflab

    out = cflab("status").stdout
    assert f"BBS https://127.0.0.1:{cfg.ports['bbs']}, mutual TLS" in out
    assert "cfdot/setup; cfdot cells" in out
