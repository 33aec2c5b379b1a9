"""Every failure kind → retry/prune decision, status and X-Cf-Routererror (DESIGN §3 Router)."""

from __future__ import annotations

import errno
import ssl

import pytest

from foundry.gorouter.classifier import (
    SPECS,
    FailureKind,
    Phase,
    classify,
    client_gone,
    no_endpoints_body,
    unknown_instance_body,
    unknown_route_body,
)


def verify_error(code: int) -> ssl.SSLCertVerificationError:
    e = ssl.SSLCertVerificationError(1, "certificate verify failed")
    e.verify_code = code
    return e


def ssl_error(reason: str) -> ssl.SSLError:
    e = ssl.SSLError(1, reason)
    e.reason = reason
    return e


CASES = [
    (verify_error(62), Phase.HANDSHAKE, FailureKind.HOSTNAME_MISMATCH, 503),
    (verify_error(20), Phase.HANDSHAKE, FailureKind.UNTRUSTED_CERT, 526),
    (verify_error(19), Phase.HANDSHAKE, FailureKind.UNTRUSTED_CERT, 526),
    (verify_error(10), Phase.HANDSHAKE, FailureKind.EXPIRED_OR_NOT_YET_VALID_CERT, 526),
    (ssl_error("TLSV13_ALERT_CERTIFICATE_REQUIRED"), Phase.READ,
     FailureKind.REMOTE_FAILED_CERT_CHECK, 496),
    (ssl_error("SSLV3_ALERT_BAD_CERTIFICATE"), Phase.HANDSHAKE,
     FailureKind.REMOTE_FAILED_CERT_CHECK, 496),
    (ssl_error("TLSV1_ALERT_UNKNOWN_CA"), Phase.HANDSHAKE,
     FailureKind.REMOTE_FAILED_CERT_CHECK, 496),
    (ssl_error("SSLV3_ALERT_HANDSHAKE_FAILURE"), Phase.HANDSHAKE,
     FailureKind.REMOTE_HANDSHAKE_FAILURE, 525),
    (ssl_error("WRONG_VERSION_NUMBER"), Phase.HANDSHAKE,
     FailureKind.ATTEMPTED_TLS_WITH_NON_TLS_BACKEND, 525),
    (ConnectionResetError(errno.ECONNRESET, "reset"), Phase.HANDSHAKE,
     FailureKind.ATTEMPTED_TLS_WITH_NON_TLS_BACKEND, 525),
    # closed without a word during the handshake: Go's io.EOF, 502
    (ConnectionResetError(), Phase.HANDSHAKE, FailureKind.INCOMPLETE_REQUEST, 502),
    (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), Phase.HANDSHAKE,
     FailureKind.INCOMPLETE_REQUEST, 502),
    (TimeoutError(), Phase.HANDSHAKE, FailureKind.REMOTE_HANDSHAKE_TIMEOUT, 502),
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), Phase.DIAL, FailureKind.DIAL, 502),
    (TimeoutError(), Phase.DIAL, FailureKind.DIAL, 502),
    (ConnectionResetError(), Phase.READ, FailureKind.CONNECTION_RESET_ON_READ, 502),
    (EOFError(), Phase.READ, FailureKind.OTHER, 502),
    (BrokenPipeError(), Phase.WRITE, FailureKind.INCOMPLETE_REQUEST, 502),
    (TimeoutError(), Phase.READ, FailureKind.TIMEOUT, 502),
    (ValueError("weird"), Phase.READ, FailureKind.OTHER, 502),
]


@pytest.mark.parametrize("exc,phase,kind,status", CASES)
def test_classification(exc: BaseException, phase: Phase, kind: FailureKind, status: int) -> None:
    f = classify(exc, phase, address="10.0.0.1:61001", server_name="guid")
    assert f.kind is kind
    assert f.spec.status == status
    assert f.router_error == f"endpoint_failure ({f.message})"


def test_every_kind_has_a_spec() -> None:
    assert set(SPECS) == set(FailureKind)


def test_idempotent_eof_is_retried_but_not_failed() -> None:
    f = classify(EOFError(), Phase.READ, address="a:1", idempotent=True)
    assert f.kind is FailureKind.IDEMPOTENT_REQUEST_EOF
    assert (f.spec.retriable, f.spec.failable, f.spec.prunable) == (True, False, False)
    # gorouter wraps the error only in a shadowed variable: the header shows Go's own text
    assert f.router_error == "endpoint_failure (EOF)"


def test_handshake_eof_and_incomplete_request_report_the_original_error() -> None:
    f = classify(ssl.SSLEOFError(8, "EOF"), Phase.HANDSHAKE, address="a:1", server_name="g")
    assert f.router_error == "endpoint_failure (EOF)"
    assert (f.spec.retriable, f.spec.failable, f.spec.prunable) == (True, False, False)
    f = classify(BrokenPipeError(errno.EPIPE, "Broken pipe"), Phase.WRITE, address="a:1")
    assert f.router_error == "endpoint_failure (broken pipe)"


def test_tls_and_dial_failures_are_prunable_read_failures_are_not() -> None:
    prunable = {k for k, s in SPECS.items() if s.prunable}
    assert prunable == {FailureKind.DIAL, FailureKind.ATTEMPTED_TLS_WITH_NON_TLS_BACKEND,
                        FailureKind.HOSTNAME_MISMATCH, FailureKind.UNTRUSTED_CERT,
                        FailureKind.EXPIRED_OR_NOT_YET_VALID_CERT,
                        FailureKind.REMOTE_FAILED_CERT_CHECK,
                        FailureKind.REMOTE_HANDSHAKE_FAILURE,
                        FailureKind.REMOTE_HANDSHAKE_TIMEOUT}


def test_client_gone_is_499_and_never_retried() -> None:
    f = client_gone()
    assert f.spec.status == 499 and not f.spec.retriable
    assert f.message == "context canceled"


def test_dial_message_is_go_like() -> None:
    f = classify(ConnectionRefusedError(errno.ECONNREFUSED, "x"), Phase.DIAL, address="1.2.3.4:5")
    assert f.message == "dial tcp 1.2.3.4:5: connect: connection refused"


def test_metrics_names() -> None:
    assert SPECS[FailureKind.HOSTNAME_MISMATCH].metric == "backend_invalid_id"
    assert SPECS[FailureKind.UNTRUSTED_CERT].metric == "backend_invalid_tls_cert"
    assert SPECS[FailureKind.ATTEMPTED_TLS_WITH_NON_TLS_BACKEND].metric == \
        "backend_tls_handshake_failed"
    assert SPECS[FailureKind.DIAL].metric == "bad_gateways"


def test_lookup_error_bodies() -> None:
    assert unknown_route_body("A.b:8080") == \
        "404 Not Found: Requested route ('A.b:8080') does not exist."
    assert "has no available endpoints" in no_endpoints_body("a.b")
    assert unknown_instance_body("a.b", "g", "3") == (
        "400 Bad Request: Requested instance ('3') with guid ('g') does not exist for "
        "route ('a.b')")
