"""Every field of an instance identity credential, as DESIGN.md §3 lists them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import subprocess
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from foundry.pki import (
    app_organizational_units,
    issue_instance_identity,
    new_ca,
    new_instance_guid,
)
from foundry.pki.ca import Credential, load_certificates

ORG, SPACE, APP = "0e3a7f4e-org", "5b1c2d3e-space", "9f8e7d6c-app"


@pytest.fixture(scope="module")
def cas():
    root = new_ca("appRootCA")
    return root, new_ca("instanceIdentityCA", issuer=root)


@pytest.fixture(scope="module")
def issued(cas):
    _, intermediate = cas
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    guid = new_instance_guid()
    cred = issue_instance_identity(
        intermediate, guid, app_organizational_units(ORG, SPACE, APP), "10.255.1.7",
        validity=dt.timedelta(hours=24), now=now,
    )
    return guid, now, cred


def test_instance_guid_is_a_v4_uuid_cut_to_28_characters():
    guids = {new_instance_guid() for _ in range(50)}
    assert len(guids) == 50
    for g in guids:
        assert len(g) == 28
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{4}", g)


def test_subject_cn_and_ou(issued):
    guid, _, cred = issued
    subject = cred.cert.subject
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [guid]
    ous = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    assert sorted(ous) == sorted([f"organization:{ORG}", f"space:{SPACE}", f"app:{APP}"])


def test_sans_are_guid_and_container_ip(issued):
    guid, _, cred = issued
    san = cred.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [guid]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.255.1.7")]


def test_validity_starts_now_and_lasts_the_period(issued):
    _, now, cred = issued
    assert cred.cert.not_valid_before_utc == now
    assert cred.cert.not_valid_after_utc == now + dt.timedelta(hours=24)


def test_key_usage_and_eku(issued):
    _, _, cred = issued
    eku = cred.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}
    ku = cred.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment and ku.key_agreement
    assert not ku.key_cert_sign
    assert cred.cert.extensions.get_extension_for_class(x509.KeyUsage).critical
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]


def test_only_the_extensions_go_writes_for_the_template_in_its_order(cas, issued):
    """credmanager's template sets KeyUsage, ExtKeyUsage, DNS/IP names; Go adds the
    AuthorityKeyIdentifier from the parent. No BasicConstraints, no SubjectKeyIdentifier."""
    _, intermediate = cas
    _, _, cred = issued
    assert [type(e.value) for e in cred.cert.extensions] == [
        x509.KeyUsage, x509.ExtendedKeyUsage, x509.AuthorityKeyIdentifier,
        x509.SubjectAlternativeName]
    aki = cred.cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = intermediate.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert aki.authority_cert_issuer is None and aki.authority_cert_serial_number is None
    assert not cred.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


def test_serial_is_the_sixteen_bytes_of_a_v4_uuid(issued):
    serial = issued[2].cert.serial_number
    assert 0 < serial < 2**128
    raw = serial.to_bytes(16, "big")
    assert raw[6] >> 4 == 4 and raw[8] >> 6 == 0b10  # version 4, RFC 4122 variant


@pytest.mark.parametrize("bits", [2048, 3072])
def test_rsa_key_size_is_a_setting(cas, bits):
    _, intermediate = cas
    cred = issue_instance_identity(intermediate, new_instance_guid(), [], "10.0.0.1", key_size=bits)
    assert isinstance(cred.key, rsa.RSAPrivateKey)
    assert cred.key.key_size == bits
    assert cred.key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")


def test_chain_file_is_leaf_then_intermediate(cas, issued):
    _, intermediate = cas
    _, _, cred = issued
    certs = load_certificates(cred.chain_pem)
    assert [c.subject for c in certs] == [cred.cert.subject, intermediate.cert.subject]
    assert certs[0].issuer == intermediate.cert.subject


def test_openssl_verify_accepts_it_with_root_and_intermediate(tmp_path, cas, issued):
    root, intermediate = cas
    _, _, cred = issued
    (tmp_path / "root.crt").write_bytes(root.cert_pem)
    (tmp_path / "intermediate.crt").write_bytes(intermediate.cert_pem)
    (tmp_path / "leaf.crt").write_bytes(cred.cert_pem)
    proc = subprocess.run(
        ["openssl", "verify", "-attime", str(int(issued[1].timestamp()) + 60),
         "-CAfile", "root.crt", "-untrusted", "intermediate.crt", "leaf.crt"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "leaf.crt: OK" in proc.stdout


def test_openssl_rejects_it_without_the_intermediate(tmp_path, cas, issued):
    root, _ = cas
    (tmp_path / "root.crt").write_bytes(root.cert_pem)
    (tmp_path / "leaf.crt").write_bytes(issued[2].cert_pem)
    proc = subprocess.run(["openssl", "verify", "-CAfile", "root.crt", "leaf.crt"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0


def test_empty_guid_gives_the_stop_sequence_certificate(cas):
    _, intermediate = cas
    cred = issue_instance_identity(intermediate, "", [f"app:{APP}"], "10.0.0.1")
    # Go leaves an empty CN out of the Subject, and writes DNSNames: []string{""}.
    assert cred.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []
    assert cred.cert.subject.rfc4514_string() == f"OU=app:{APP}"
    san = cred.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [""]


class _BorrowingCertificate:
    """A CA certificate that behaves as Debian's cryptography 38 does on first use:
    filling its extension cache holds a mutable borrow across a thread switch, and a
    read of its subject meanwhile fails with "Already mutably borrowed"."""

    def __init__(self, cert: x509.Certificate) -> None:
        self._cert, self._borrowed = cert, threading.Event()

    @property
    def extensions(self) -> x509.Extensions:
        self._borrowed.set()
        time.sleep(0.05)  # the GIL switches here; another issuing thread runs
        self._borrowed.clear()
        return self._cert.extensions

    @property
    def subject(self) -> x509.Name:
        if self._borrowed.is_set():
            raise RuntimeError("Already mutably borrowed")
        return self._cert.subject

    def __getattr__(self, name: str):  # noqa: ANN204 - everything else as the real one
        return getattr(self._cert, name)


def test_threads_issuing_from_one_ca_take_turns(cas):
    """Three instances starting at once on a fresh cell each issue from the same CA;
    none may fail (it left an LRP CLAIMED for good in CI)."""
    _, intermediate = cas
    ca = Credential(cert=_BorrowingCertificate(intermediate.cert), key=intermediate.key,  # type: ignore[arg-type]
                    issuers=intermediate.issuers)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    errors: list[BaseException] = []

    def issue(i: int) -> None:
        try:
            issue_instance_identity(ca, f"guid-{i}", [], "10.255.1.9", key=key)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=issue, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
