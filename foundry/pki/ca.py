"""Certificate authorities and leaf certificates for the foundation.

Mirrors what cf-deployment asks CredHub to generate (`diego_instance_identity_ca`
under `application_ca`, `gorouter_backend_tls`, ...) and what the executor's
credmanager issues per instance, so every consumer sees real-shaped X.509.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from foundry.pki.go_name import go_pkix_name

# One signer at a time. The cryptography of Debian 12 (38.x) fills a certificate's
# extension cache under a Rust mutable borrow that can span a GIL switch; a second
# thread reading the same issuer's subject then gets "Already mutably borrowed". The
# rep issues from several threads at once (three instances starting on a fresh cell
# did it), so every use of an issuer goes through this lock. Key generation, the slow
# part, stays outside.
_ISSUING = threading.RLock()

DEFAULT_CA_VALIDITY = dt.timedelta(days=3650)
DEFAULT_LEAF_VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True)
class Credential:
    """A certificate, its key and the issuing CAs (excluding the root) as PEM."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    issuers: tuple[x509.Certificate, ...] = ()

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def chain_pem(self) -> bytes:
        """Leaf followed by its intermediates, as `instance.crt` holds it."""
        return self.cert_pem + b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in self.issuers
        )

    @property
    def key_pem(self) -> bytes:
        """PKCS#1 ("RSA PRIVATE KEY"), the block the executor writes."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> Credential:
        certs = load_certificates(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("only RSA keys are supported")
        return cls(cert=certs[0], key=key, issuers=tuple(certs[1:]))


_PEM_END = b"-----END CERTIFICATE-----"


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """All certificates in a PEM bundle (cryptography 38, Debian's, lacks a helper)."""
    blocks = [b + _PEM_END for b in pem.split(_PEM_END) if b"-----BEGIN CERTIFICATE-----" in b]
    if not blocks:
        raise ValueError("no PEM certificate found")
    return [x509.load_pem_x509_certificate(b.strip() + b"\n") for b in blocks]


def new_key(key_size: int) -> rsa.RSAPrivateKey:
    if key_size not in (2048, 3072, 4096):
        raise ValueError(f"RSA key size must be 2048, 3072 or 4096, not {key_size}")
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _name(common_name: str, org_units: Sequence[str] = (), org: str | None = None) -> x509.Name:
    attrs = []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    # Go's pkix.Name puts all OU values in one multi-valued RDN; cryptography
    # keeps them as separate attributes, which openssl prints the same way.
    attrs += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou) for ou in org_units]
    # An empty CN (the stop sequence's "invalid" certificate) is legal X.509 but
    # cryptography refuses it unless validation is skipped.
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name, _validate=bool(common_name)))
    return x509.Name(attrs)


def _builder(
    subject: x509.Name,
    issuer: Credential | None,
    key: rsa.RSAPrivateKey,
    not_before: dt.datetime,
    validity: dt.timedelta,
    serial: int | None = None,
) -> x509.CertificateBuilder:
    issuer_name = issuer.cert.subject if issuer else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    signer_pub = (issuer.key if issuer else key).public_key()
    return builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_pub), critical=False
    )


def _issuers_of(issuer: Credential | None) -> tuple[x509.Certificate, ...]:
    """Chain to ship with a cert signed by `issuer`: the issuer unless it is a root."""
    if issuer is None or issuer.cert.issuer == issuer.cert.subject:
        return ()
    return (issuer.cert, *issuer.issuers)


def new_ca(
    common_name: str,
    issuer: Credential | None = None,
    key_size: int = 2048,
    validity: dt.timedelta = DEFAULT_CA_VALIDITY,
    now: dt.datetime | None = None,
) -> Credential:
    """A root CA (no issuer) or an intermediate CA signed by `issuer`."""
    key = new_key(key_size)
    with _ISSUING:
        return _sign_ca(common_name, issuer, key, now or _now(), validity)


def _sign_ca(common_name: str, issuer: Credential | None, key: rsa.RSAPrivateKey,
             not_before: dt.datetime, validity: dt.timedelta) -> Credential:
    builder = _builder(_name(common_name), issuer, key, not_before, validity)
    builder = builder.add_extension(
        x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), critical=True
    ).add_extension(
        x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True,
            crl_sign=True, encipher_only=False, decipher_only=False,
        ),
        critical=True,
    )
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Credential(cert=cert, key=key, issuers=_issuers_of(issuer))


def issue_leaf(
    issuer: Credential,
    common_name: str,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    org_units: Sequence[str] = (),
    server_auth: bool = True,
    client_auth: bool = False,
    key_size: int = 2048,
    validity: dt.timedelta = DEFAULT_LEAF_VALIDITY,
    now: dt.datetime | None = None,
    serial: int | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> Credential:
    """A leaf certificate; SANs and EKUs as given (a fresh key unless one is handed in)."""
    key = key or new_key(key_size)
    with _ISSUING:
        builder = _builder(
            _name(common_name, org_units), issuer, key, now or _now(), validity, serial
        )
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        ekus = []
        if client_auth:
            ekus.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        if server_auth:
            ekus.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=True, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        if ekus:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        cert = builder.sign(issuer.key, hashes.SHA256())
        return Credential(cert=cert, key=key, issuers=_issuers_of(issuer))


def new_instance_guid() -> str:
    """28 characters: a v4 UUID cut to 8-4-4-4-4 (rep's auctioncellrep helper)."""
    return str(uuid.uuid4())[:28]


def issue_instance_identity(
    issuer: Credential,
    instance_guid: str,
    organizational_units: Sequence[str],
    ip_address: str | None,
    key_size: int = 2048,
    validity: dt.timedelta = dt.timedelta(hours=24),
    now: dt.datetime | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> Credential:
    """The executor's instance identity credential, field by field as credmanager.go
    makes it with Go's ``x509.CreateCertificate``.

    Subject: the OUs from the desired LRP's certificate properties in one multi-valued
    RDN, then CN = instance guid (``go_pkix_name``). DNS SAN = instance guid, IP SAN =
    container IP. KeyUsage (critical) digitalSignature, keyEncipherment, keyAgreement;
    EKU clientAuth, serverAuth; AuthorityKeyIdentifier = the issuer's key id. No
    BasicConstraints and no SubjectKeyIdentifier: the template sets neither, and Go
    adds a key id only to CA certificates. Serial = the 16 bytes of a v4 UUID;
    NotBefore = now (no back-dating). An empty guid gives the "invalid" certificate
    of the stop sequence: no CN, and an empty DNS SAN (``DNSNames: []string{""}``).
    """
    key = key or new_key(key_size)
    with _ISSUING:
        not_before = now or _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(go_pkix_name(instance_guid, organizational_units))
            .issuer_name(issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(uuid.uuid4().int)
            .not_valid_before(not_before)
            .not_valid_after(not_before + validity)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=True, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        builder = builder.add_extension(_authority_key_id(issuer), critical=False)
        sans: list[x509.GeneralName] = [x509.DNSName(instance_guid)]
        if ip_address:
            sans.append(x509.IPAddress(ipaddress.ip_address(ip_address)))
        # Go marks the SAN extension critical only when the Subject is empty.
        subject_empty = not instance_guid and not organizational_units
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=subject_empty)
        cert = builder.sign(issuer.key, hashes.SHA256())
        return Credential(cert=cert, key=key, issuers=_issuers_of(issuer))


def _authority_key_id(issuer: Credential) -> x509.AuthorityKeyIdentifier:
    """Go copies the parent's SubjectKeyIdentifier (key id only, no issuer/serial)."""
    try:
        ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
    return x509.AuthorityKeyIdentifier(ski.digest, None, None)


def app_organizational_units(org_guid: str, space_guid: str, app_guid: str) -> list[str]:
    """The OU values Cloud Controller puts in certificate_properties, in its order."""
    return [f"organization:{org_guid}", f"space:{space_guid}", f"app:{app_guid}"]
