"""Certificate details in the shape of Envoy's ``/certs`` admin output."""

from __future__ import annotations

import datetime as dt
import re

from cryptography import x509

from .model import ResolvedTls


def _sans(cert: x509.Certificate) -> list[dict[str, str]]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    out: list[dict[str, str]] = []
    for name in ext:
        if isinstance(name, x509.DNSName):
            out.append({"dns": name.value})
        elif isinstance(name, x509.UniformResourceIdentifier):
            out.append({"uri": name.value})
        elif isinstance(name, x509.IPAddress):
            out.append({"ip_address": str(name.value)})
        elif isinstance(name, x509.RFC822Name):
            out.append({"email": name.value})
    return out


def _load_all(pem: bytes) -> list[x509.Certificate]:
    """All certificates in a bundle (cryptography 38, Debian bookworm's, lacks the plural)."""
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S)
    return [x509.load_pem_x509_certificate(b) for b in blocks]


def _validity(cert: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    if hasattr(cert, "not_valid_after_utc"):
        return cert.not_valid_before_utc, cert.not_valid_after_utc
    return (cert.not_valid_before.replace(tzinfo=dt.UTC),
            cert.not_valid_after.replace(tzinfo=dt.UTC))


def _ts(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def cert_details(pem: bytes, path: str, now: dt.datetime | None = None) -> list[dict]:
    """One CertificateDetails per certificate in a PEM bundle."""
    now = now or dt.datetime.now(dt.UTC)
    out = []
    for cert in _load_all(pem):
        not_before, not_after = _validity(cert)
        days = max(0, (not_after - now).days)
        out.append({
            "path": path,
            "serial_number": format(cert.serial_number, "x"),
            "subject_alt_names": _sans(cert),
            # uint64 in proto3 JSON is a string, as Envoy prints it.
            "days_until_expiration": str(days),
            "valid_from": _ts(not_before),
            "expiration_time": _ts(not_after),
        })
    return out


def leaf_serial(pem: bytes) -> str:
    return format(x509.load_pem_x509_certificate(pem).serial_number, "x")


def certs_json(contexts: list[ResolvedTls], now: dt.datetime | None = None) -> dict:
    """Envoy's ``/certs``: per TLS context the CA certs and the served chain (leaf first)."""
    certificates = []
    for tls in contexts:
        ca = []
        if tls.validation and tls.validation.trusted_ca_pem:
            ca = cert_details(tls.validation.trusted_ca_pem, tls.validation.trusted_ca_path, now)
        # Envoy shows the served leaf only, not the intermediates sent with it.
        chain = cert_details(tls.certificate.chain_pem, tls.certificate.chain_path, now)[:1]
        certificates.append({"ca_cert": ca, "cert_chain": chain})
    return {"certificates": certificates}
