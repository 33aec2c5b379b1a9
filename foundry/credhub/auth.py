"""Who is calling: the actor behind a client certificate chain (sans-IO).

Mirrors CredHub's mutual-TLS authentication (``X509AuthenticationProvider``,
``MtlsX509PrincipalExtractor``): the chain must lead to a trusted CA, every
certificate in it must be within its validity dates, the leaf must carry the
``clientAuth`` extended key usage, and an app instance's actor is
``mtls-`` + its ``app:<uuid v4>`` OU. Certificates of other clients (the service
broker) chain to ``client_cas`` and map by CN to a configured actor.

Chain checks are done here, in Python (cryptography 38 has no verifier), so the TLS
layer can accept any certificate and CredHub can answer 401 with a JSON body.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_DEPTH = 5
_DER = serialization.Encoding.DER
APP_OU = re.compile(
    r"^app:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE)

NO_CERT = "Full authentication is required to access this resource"
UNTRUSTED = "The provided certificate is not signed by a trusted certificate authority."
NOT_VALID = "The provided certificate is expired or not yet valid."
NO_CLIENT_AUTH = "The provided certificate is not authorized to be used for client authentication."
INVALID_IDENTITY = ("The provided authentication mechanism does not provide a valid identity. "
                    "Please contact your system administrator.")


class AuthError(Exception):
    """Authentication failed: answered with 401 and ``{"error": message}``."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason  # short tag for the log


@dataclass(frozen=True)
class Actor:
    name: str  # e.g. "mtls-app:<guid>" or "uaa-client:service-broker"
    kind: str  # "app" or "client"
    serial: int = 0

    @property
    def is_app(self) -> bool:
        return self.kind == "app"


def _not_before(cert: x509.Certificate) -> dt.datetime:
    v = getattr(cert, "not_valid_before_utc", None)
    return v if v is not None else cert.not_valid_before.replace(tzinfo=dt.UTC)


def _not_after(cert: x509.Certificate) -> dt.datetime:
    v = getattr(cert, "not_valid_after_utc", None)
    return v if v is not None else cert.not_valid_after.replace(tzinfo=dt.UTC)


def within_validity(cert: x509.Certificate, now: dt.datetime) -> bool:
    return _not_before(cert) <= now <= _not_after(cert)


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    pub = issuer.public_key()
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                       cert.signature_hash_algorithm)  # type: ignore[arg-type]
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes,
                       ec.ECDSA(cert.signature_hash_algorithm))  # type: ignore[arg-type]
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def build_chain(leaf: x509.Certificate, presented: Sequence[x509.Certificate],
                roots: Sequence[x509.Certificate]) -> list[x509.Certificate] | None:
    """leaf … root using the presented intermediates, or None if no trusted path."""
    chain = [leaf]
    cur = leaf
    for _ in range(MAX_DEPTH):
        for root in roots:
            if root.public_bytes(_DER) == cur.public_bytes(_DER):
                return chain  # the leaf is itself trusted (unusual, but a path)
            if signed_by(cur, root):
                return [*chain, root]
        nxt = next((c for c in presented if c is not cur and c not in chain and is_ca(c)
                    and signed_by(cur, c)), None)
        if nxt is None:
            return None
        chain.append(nxt)
        cur = nxt
    return None


def has_client_auth(cert: x509.Certificate) -> bool:
    try:
        ekus = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CLIENT_AUTH in ekus


def org_units(cert: x509.Certificate) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(
        NameOID.ORGANIZATIONAL_UNIT_NAME)]


def common_name(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def app_actor_from_ous(ous: Sequence[str]) -> str | None:
    """``mtls-app:<guid>`` from exactly one ``app:<uuid v4>`` OU, else None."""
    apps = [ou for ou in ous if ou.lower().startswith("app:")]
    if len(apps) != 1 or not APP_OU.match(apps[0]):
        return None
    return "mtls-" + apps[0].lower()


@dataclass(frozen=True)
class Authenticator:
    instance_roots: tuple[x509.Certificate, ...]
    client_roots: tuple[x509.Certificate, ...] = ()
    broker_actors: tuple[tuple[str, str], ...] = ()

    @property
    def creators(self) -> frozenset[str]:
        return frozenset(a for _, a in self.broker_actors)

    def authenticate(self, chain_der: Sequence[bytes], now: dt.datetime) -> Actor:
        """The actor for a presented chain (leaf first); raises AuthError."""
        if not chain_der:
            raise AuthError(NO_CERT, "no client certificate")
        try:
            certs = [x509.load_der_x509_certificate(d) for d in chain_der]
        except ValueError as e:
            raise AuthError(UNTRUSTED, "unparseable client certificate") from e
        leaf, presented = certs[0], certs[1:]
        app_path = build_chain(leaf, presented, self.instance_roots)
        client_path = None if app_path else build_chain(leaf, presented, self.client_roots)
        path = app_path or client_path
        if path is None:
            raise AuthError(UNTRUSTED, f"untrusted chain for {leaf.subject.rfc4514_string()}")
        for c in path:
            if not within_validity(c, now):
                raise AuthError(NOT_VALID, f"certificate {c.subject.rfc4514_string()} outside "
                                f"{_not_before(c).isoformat()}..{_not_after(c).isoformat()}")
        if not has_client_auth(leaf):
            raise AuthError(NO_CLIENT_AUTH, "leaf lacks EKU clientAuth")
        if app_path:
            actor = app_actor_from_ous(org_units(leaf))
            if actor is None:
                raise AuthError(INVALID_IDENTITY, "no single app:<uuid v4> OU")
            return Actor(actor, "app", leaf.serial_number)
        cn = common_name(leaf)
        actor = dict(self.broker_actors).get(cn)
        if actor is None:
            raise AuthError(INVALID_IDENTITY, f"CN {cn!r} maps to no actor")
        return Actor(actor, "client", leaf.serial_number)
