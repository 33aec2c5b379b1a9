"""Backend failure classification (gorouter `proxy/fails/`, `round_tripper/error_handler.go`).

The I/O edge turns an exception into a `Failure` (kind + Go-style message);
the kind decides whether the attempt is retried, whether the endpoint is
marked failed or pruned (TLS endpoints), the client status and the metric.
"""

from __future__ import annotations

import errno
import ssl
from dataclasses import dataclass
from enum import Enum

from foundry.gorouter.http11 import RequestHead


class FailureKind(Enum):
    DIAL = "dial"
    ATTEMPTED_TLS_WITH_NON_TLS_BACKEND = "attempted_tls_with_non_tls_backend"
    HOSTNAME_MISMATCH = "hostname_mismatch"
    UNTRUSTED_CERT = "untrusted_cert"
    EXPIRED_OR_NOT_YET_VALID_CERT = "expired_or_not_yet_valid_cert"
    REMOTE_FAILED_CERT_CHECK = "remote_failed_cert_check"
    REMOTE_HANDSHAKE_FAILURE = "remote_handshake_failure"
    REMOTE_HANDSHAKE_TIMEOUT = "remote_handshake_timeout"
    CONNECTION_RESET_ON_READ = "connection_reset_on_read"
    IDEMPOTENT_REQUEST_EOF = "idempotent_request_eof"
    INCOMPLETE_REQUEST = "incomplete_request"
    CONTEXT_CANCELLED = "context_cancelled"
    TIMEOUT = "timeout"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Spec:
    retriable: bool
    failable: bool
    prunable: bool
    status: int
    body: str
    metric: str | None = None


_TLS = dict(retriable=True, failable=True, prunable=True)
SPECS: dict[FailureKind, Spec] = {
    FailureKind.DIAL: Spec(**_TLS, status=502,
                           body="502 Bad Gateway: Registered endpoint failed to handle the request.",
                           metric="bad_gateways"),
    FailureKind.ATTEMPTED_TLS_WITH_NON_TLS_BACKEND: Spec(
        **_TLS, status=525, body="525 SSL Handshake Failed", metric="backend_tls_handshake_failed"),
    FailureKind.HOSTNAME_MISMATCH: Spec(**_TLS, status=503, body="503 Service Unavailable",
                                        metric="backend_invalid_id"),
    FailureKind.UNTRUSTED_CERT: Spec(**_TLS, status=526, body="526 Invalid SSL Certificate",
                                     metric="backend_invalid_tls_cert"),
    # No error spec of its own in gorouter; Go wraps it so UntrustedCert's 526 applies.
    FailureKind.EXPIRED_OR_NOT_YET_VALID_CERT: Spec(
        **_TLS, status=526, body="526 Invalid SSL Certificate", metric="backend_invalid_tls_cert"),
    FailureKind.REMOTE_FAILED_CERT_CHECK: Spec(**_TLS, status=496,
                                               body="496 SSL Certificate Required"),
    FailureKind.REMOTE_HANDSHAKE_FAILURE: Spec(
        **_TLS, status=525, body="525 SSL Handshake Failed", metric="backend_tls_handshake_failed"),
    FailureKind.REMOTE_HANDSHAKE_TIMEOUT: Spec(
        **_TLS, status=502,
        body="502 Bad Gateway: Registered endpoint failed to handle the request.",
        metric="bad_gateways"),
    FailureKind.CONNECTION_RESET_ON_READ: Spec(
        retriable=False, failable=True, prunable=False, status=502,
        body="502 Bad Gateway: Registered endpoint failed to handle the request.",
        metric="bad_gateways"),
    FailureKind.IDEMPOTENT_REQUEST_EOF: Spec(
        retriable=True, failable=False, prunable=False, status=502,
        body="502 Bad Gateway: Registered endpoint failed to handle the request.",
        metric="bad_gateways"),
    FailureKind.INCOMPLETE_REQUEST: Spec(
        retriable=True, failable=False, prunable=False, status=502,
        body="502 Bad Gateway: Registered endpoint failed to handle the request.",
        metric="bad_gateways"),
    FailureKind.CONTEXT_CANCELLED: Spec(retriable=False, failable=False, prunable=False,
                                        status=499, body="499 Request Cancelled"),
    FailureKind.TIMEOUT: Spec(retriable=False, failable=False, prunable=False, status=502,
                              body="502 Bad Gateway: Registered endpoint failed to handle the request.",
                              metric="bad_gateways"),
    FailureKind.OTHER: Spec(retriable=False, failable=False, prunable=False, status=502,
                            body="502 Bad Gateway: Registered endpoint failed to handle the request.",
                            metric="bad_gateways"),
}


@dataclass(frozen=True, slots=True)
class Failure:
    """`message` is Go's error text as the round tripper got it. gorouter wraps it only to
    decide retries ("EOF (via idempotent request)", "incomplete request (...)"), in a
    shadowed variable: the error handler, and so X-Cf-Routererror, sees the original."""

    kind: FailureKind
    message: str

    @property
    def spec(self) -> Spec:
        return SPECS[self.kind]

    @property
    def router_error(self) -> str:
        """The X-Cf-Routererror value."""
        return f"endpoint_failure ({self.message})"


class Phase(Enum):
    """Where in an attempt the error happened; the same exception means different things."""

    DIAL = "dial"
    HANDSHAKE = "handshake"
    WRITE = "write"
    READ = "read"


# OpenSSL X509_V_ERR_* codes.
_HOSTNAME_MISMATCH = {62, 63, 64}  # hostname / email / ip mismatch
_EXPIRED = {9, 10, 13, 14}  # not yet valid, expired, bad notBefore/notAfter fields
_REMOTE_CERT_ALERTS = {
    "SSLV3_ALERT_BAD_CERTIFICATE": "remote error: tls: bad certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "remote error: tls: unknown certificate authority",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "remote error: tls: certificate required",
}
_NON_TLS_REASONS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
                    "UNKNOWN_PROTOCOL", "HTTP_REQUEST", "RECORD_TOO_LARGE"}


def classify_tls_error(exc: ssl.SSLError, server_name: str) -> Failure | None:
    """TLS errors mean the same in any phase (a TLS 1.3 client-cert alert arrives on read)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        if code in _HOSTNAME_MISMATCH:
            return Failure(FailureKind.HOSTNAME_MISMATCH,
                           f"tls: failed to verify certificate: x509: certificate is not valid "
                           f"for {server_name}")
        if code in _EXPIRED:
            return Failure(FailureKind.EXPIRED_OR_NOT_YET_VALID_CERT,
                           "tls: failed to verify certificate: x509: certificate has expired "
                           "or is not yet valid")
        return Failure(FailureKind.UNTRUSTED_CERT,
                       "tls: failed to verify certificate: x509: certificate signed by unknown "
                       "authority")
    reason = getattr(exc, "reason", None) or ""
    if reason in _REMOTE_CERT_ALERTS:
        return Failure(FailureKind.REMOTE_FAILED_CERT_CHECK, _REMOTE_CERT_ALERTS[reason])
    if reason == "SSLV3_ALERT_HANDSHAKE_FAILURE":
        return Failure(FailureKind.REMOTE_HANDSHAKE_FAILURE, "remote error: tls: handshake failure")
    if reason in _NON_TLS_REASONS:
        return Failure(FailureKind.ATTEMPTED_TLS_WITH_NON_TLS_BACKEND,
                       "tls: first record does not look like a TLS handshake")
    return None


def classify(exc: BaseException, phase: Phase, *, address: str, server_name: str = "",
             idempotent: bool = False) -> Failure:
    """Map an exception raised during one attempt to gorouter's failure kind."""
    if isinstance(exc, ssl.SSLError):
        tls = classify_tls_error(exc, server_name)
        if tls is not None:
            return tls
        if phase is Phase.HANDSHAKE:
            if isinstance(exc, ssl.SSLEOFError) or "EOF" in str(exc):
                # The backend closed without a word: Go's handshake returns io.EOF, which
                # no error spec claims (502) and, before a connection, retries elsewhere.
                return Failure(FailureKind.INCOMPLETE_REQUEST, "EOF")
            return Failure(FailureKind.REMOTE_HANDSHAKE_FAILURE, f"tls: {exc}")
    if phase is Phase.DIAL:
        if isinstance(exc, TimeoutError):
            return Failure(FailureKind.DIAL, f"dial tcp {address}: i/o timeout")
        return Failure(FailureKind.DIAL, f"dial tcp {address}: connect: {_os_message(exc)}")
    if phase is Phase.HANDSHAKE:
        if isinstance(exc, TimeoutError):
            return Failure(FailureKind.REMOTE_HANDSHAKE_TIMEOUT, "net/http: TLS handshake timeout")
        if isinstance(exc, EOFError) or (isinstance(exc, ConnectionResetError)
                                         and exc.errno is None):
            # The backend closed without a word (uvloop says so with an errno-less
            # ConnectionResetError): Go's handshake returns io.EOF, which no error spec
            # claims (502, not prunable) and, before a connection, is retried elsewhere.
            return Failure(FailureKind.INCOMPLETE_REQUEST, "EOF")
        if isinstance(exc, (ConnectionResetError, ConnectionAbortedError)):
            # A plain-HTTP backend answers a ClientHello with an HTTP 400 and closes.
            return Failure(FailureKind.ATTEMPTED_TLS_WITH_NON_TLS_BACKEND,
                           "tls: first record does not look like a TLS handshake")
        return Failure(FailureKind.REMOTE_HANDSHAKE_FAILURE, f"tls: {exc}")
    if isinstance(exc, TimeoutError):
        return Failure(FailureKind.TIMEOUT, "context deadline exceeded")
    if phase is Phase.WRITE:
        return Failure(FailureKind.INCOMPLETE_REQUEST, _os_message(exc))
    if isinstance(exc, ConnectionResetError):
        return Failure(FailureKind.CONNECTION_RESET_ON_READ, "read: connection reset by peer")
    if isinstance(exc, EOFError):
        if idempotent:
            return Failure(FailureKind.IDEMPOTENT_REQUEST_EOF, "EOF")
        return Failure(FailureKind.OTHER, "EOF")
    return Failure(FailureKind.OTHER, _os_message(exc))


def client_gone() -> Failure:
    return Failure(FailureKind.CONTEXT_CANCELLED, "context canceled")


def _os_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno == errno.ECONNREFUSED:
            return "connection refused"
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "no route to host"
        return exc.strerror.lower() if exc.strerror else str(exc)
    return str(exc) or type(exc).__name__


# Route-lookup errors (gorouter handlers/lookup.go), used before any endpoint is tried.
# `host` is the Host header as the client sent it (Go's r.Host: case and port kept).
def unknown_route_body(host: str) -> str:
    return f"404 Not Found: Requested route ('{host}') does not exist."


def no_endpoints_body(host: str) -> str:
    return f"503 Service Unavailable: Requested route ('{host}') has no available endpoints."


def connection_limit_body(host: str) -> str:
    return f"503 Service Unavailable: Requested route ('{host}') has reached the connection limit."


def unknown_instance_body(host: str, app_guid: str, index: str) -> str:
    return (f"400 Bad Request: Requested instance ('{index}') with guid ('{app_guid}') "
            f"does not exist for route ('{host}')")


EMPTY_HOST_BODY = "400 Bad Request: Request had empty Host header"
INVALID_APP_INSTANCE_BODY = "400 Bad Request: Invalid X-CF-App-Instance Header"
# Cache-Control of lookup errors (handlers/helpers.go): an unknown route or instance must
# not be cached; an empty Host or an empty pool may be, for 2 s.
NO_CACHE = [("Cache-Control", "no-cache, no-store")]
CACHE_2S = [("Cache-Control", "public,max-age=2")]


IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def is_idempotent(req: RequestHead, has_body: bool) -> bool:
    """Whether a failed request may be sent again: gorouter retries only these."""
    return not has_body and (req.method in IDEMPOTENT_METHODS
                             or req.get("idempotency-key") is not None
                             or req.get("x-idempotency-key") is not None)
