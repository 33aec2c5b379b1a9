"""Instance identity certificates in a real TLS handshake on loopback, as the router checks them."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from foundry.pki import app_organizational_units, issue_instance_identity, new_ca, new_instance_guid


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    root = new_ca("appRootCA")
    identity = new_ca("instanceIdentityCA", issuer=root)
    guid = new_instance_guid()
    leaf = issue_instance_identity(identity, guid, app_organizational_units("o", "s", "a"), "127.0.0.1")
    (d / "root.crt").write_bytes(root.cert_pem)
    (d / "instance.crt").write_bytes(leaf.chain_pem)
    (d / "instance.key").write_bytes(leaf.key_pem)
    other_root = new_ca("someoneElsesCA")
    (d / "other.crt").write_bytes(other_root.cert_pem)
    return d, guid


def _serve_once(ctx: ssl.SSLContext) -> tuple[int, threading.Thread]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run():
        conn, _ = listener.accept()
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"hello")
        except (ssl.SSLError, OSError):
            pass
        finally:
            listener.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return port, t


def _server_ctx(d) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "instance.crt", d / "instance.key")
    return ctx


def _client(d, server_name: str, ca: str) -> bytes:
    ctx = ssl.create_default_context(cafile=str(d / ca))
    port, t = _serve_once(_server_ctx(d))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
                return tls.recv(5)
    finally:
        t.join(5)


def test_router_style_check_accepts_the_right_instance(pki):
    d, guid = pki
    assert _client(d, guid, "root.crt") == b"hello"


def test_other_instance_guid_is_a_hostname_mismatch(pki):
    d, _ = pki
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _client(d, new_instance_guid(), "root.crt")


def test_untrusted_root_fails_verification(pki):
    d, guid = pki
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        _client(d, guid, "other.crt")
