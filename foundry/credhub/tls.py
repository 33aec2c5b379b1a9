"""Server TLS: request a client certificate, let the handshake accept any, verify in Python.

The stdlib cannot install an OpenSSL verify callback, and with CERT_OPTIONAL an
untrusted or expired client certificate aborts the handshake. CredHub must answer such
a client with 401 and a JSON error instead, so the context gets a callback that always
accepts (set with ctypes on the context's ``SSL_CTX``); ``auth.Authenticator`` then
checks the chain the client sent. If that is not possible on this interpreter, the
context falls back to OpenSSL's own verification against the trusted CAs (bad
certificates then fail the handshake) and says so in the log.
"""

from __future__ import annotations

import ctypes
import logging
import ssl
from typing import Any

log = logging.getLogger("credhub")

_VERIFY_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


@_VERIFY_CB
def _accept_any(preverify_ok: int, store_ctx: int) -> int:  # noqa: ARG001
    return 1


def _install_accept_any(ctx: ssl.SSLContext) -> bool:
    try:
        import _ssl

        lib = ctypes.CDLL(_ssl.__file__)
        set_verify = lib.SSL_CTX_set_verify
        get_mode = lib.SSL_CTX_get_verify_mode
    except (OSError, AttributeError):
        return False
    set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VERIFY_CB]
    set_verify.restype = None
    get_mode.argtypes = [ctypes.c_void_p]
    get_mode.restype = ctypes.c_int
    # PySSLContext: PyObject_HEAD, then SSL_CTX *ctx.
    ptr = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if not ptr or get_mode(ptr) != 1:  # SSL_VERIFY_PEER: confirms the pointer is the SSL_CTX
        return False
    set_verify(ptr, 1, _accept_any)
    return True


def server_context(cert_file: str, key_file: str, ca_files: list[str]) -> tuple[ssl.SSLContext,
                                                                                 bool]:
    """(context, verified_in_python)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    for f in ca_files:
        if f:
            ctx.load_verify_locations(f)  # also names the acceptable CAs to clients
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ok = _install_accept_any(ctx)
    if not ok:
        log.warning("cannot install a verify callback: untrusted client certificates will "
                    "fail the TLS handshake instead of getting a 401")
    return ctx, ok


def peer_chain_der(sock: Any) -> list[bytes]:
    """The client's chain as sent (leaf first), DER; [] without a client certificate."""
    sslobj = getattr(sock, "_sslobj", None)
    chain = None
    if sslobj is not None and hasattr(sslobj, "get_unverified_chain"):
        try:
            chain = sslobj.get_unverified_chain()
        except (ssl.SSLError, ValueError):
            chain = None
    chain = [c for c in chain or [] if c is not None]
    if chain:
        import _ssl

        return [c.public_bytes(_ssl.ENCODING_DER) for c in chain]
    leaf = sock.getpeercert(binary_form=True)
    return [leaf] if leaf else []
