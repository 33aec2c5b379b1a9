"""Build an ``ssl.SSLContext`` for a listener from resolved TLS material.

``load_cert_chain`` only takes file names, so inline PEM goes through a
short-lived 0600 file on tmpfs when available and is unlinked at once.
"""

from __future__ import annotations

import os
import ssl

from .model import ConfigError, ResolvedTls

_VERSIONS = {
    "TLSv1_0": ssl.TLSVersion.TLSv1,
    "TLSv1_1": ssl.TLSVersion.TLSv1_1,
    "TLSv1_2": ssl.TLSVersion.TLSv1_2,
    "TLSv1_3": ssl.TLSVersion.TLSv1_3,
}


def _tmpdir() -> str | None:
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def _mkstemp() -> tuple[int, str]:
    """``tempfile.mkstemp(prefix=".envoy-", dir=_tmpdir())`` without importing tempfile
    (it pulls in random, shutil, bz2 and lzma: ~0.7 MB RSS in the proxy)."""
    d = _tmpdir()
    if d is None:
        import tempfile  # noqa: PLC0415

        return tempfile.mkstemp(prefix=".envoy-")
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        name = os.path.join(d, ".envoy-" + os.urandom(6).hex())
        try:
            return os.open(name, flags, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError("no usable temporary file name")


def _load_chain(ctx: ssl.SSLContext, chain: bytes, key: bytes) -> None:
    fd, name = _mkstemp()
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(chain.rstrip() + b"\n" + key)
        ctx.load_cert_chain(name)
    finally:
        os.unlink(name)


def build_server_context(tls: ResolvedTls, path: str = "tls") -> ssl.SSLContext:
    """A server context; errors become ConfigError naming ``path``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.minimum_version = _VERSIONS[tls.params.min_version]
        ctx.maximum_version = _VERSIONS[tls.params.max_version]
        ctx.set_ciphers(tls.params.cipher_list)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"{path}.tls_params", str(exc)) from None
    if not tls.params.server_preference:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_COMPRESSION
    # A FIN without close_notify ends the client's stream, as in Envoy (ssl_socket.cc:
    # SSL_ERROR_SYSCALL with no errno is end_stream); OpenSSL 3 on its own makes it a
    # fatal error, after which the app's answer cannot be written back.
    ctx.options |= getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    for curve in tls.params.ecdh_curves[:1]:
        try:
            ctx.set_ecdh_curve(curve)
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(f"{path}.tls_params.ecdh_curves", str(exc)) from None
    if not tls.session_tickets:
        ctx.options |= ssl.OP_NO_TICKET
        ctx.num_tickets = 0
    try:
        _load_chain(ctx, tls.certificate.chain_pem, tls.certificate.key_pem)
    except ssl.SSLError as exc:
        raise ConfigError(f"{path}.tls_certificates[0]",
                          f"cannot load certificate chain and key: {exc.reason or exc}") from None
    if tls.validation and tls.validation.trusted_ca_pem:
        try:
            ctx.load_verify_locations(cadata=tls.validation.trusted_ca_pem.decode())
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(f"{path}.validation_context.trusted_ca", str(exc)) from None
        ctx.verify_mode = ssl.CERT_REQUIRED if tls.require_client_certificate else ssl.CERT_OPTIONAL
    if tls.alpn:
        ctx.set_alpn_protocols(list(tls.alpn))
    return ctx
