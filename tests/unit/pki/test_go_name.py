"""The instance identity Subject, checked byte by byte against Go's pkix.Name encoding."""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from foundry.pki import app_organizational_units, issue_instance_identity, new_ca
from foundry.pki.go_name import attribute_der, go_pkix_name

ORG = "0e3a7f4e-1b2c-4d5e-8f90-a1b2c3d4e5f6"
SPACE = "5b1c2d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e"
APP = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
GUID = "6f042458-693c-456a-6fa6-ed96"


def tlv(tag: int, body: bytes) -> bytes:
    assert len(body) < 128
    return bytes([tag, len(body)]) + body


def ou(value: str) -> bytes:  # SEQUENCE { OID 2.5.4.11, PrintableString }
    return tlv(0x30, bytes.fromhex("060355040b") + tlv(0x13, value.encode()))


def test_subject_der_is_one_sorted_ou_set_then_the_cn():
    name = go_pkix_name(GUID, app_organizational_units(ORG, SPACE, APP))
    # Go: RDNSequence{ SET{OU...} DER-sorted, SET{CN} }. The three OU encodings differ
    # first in their length byte, so the shortest (app:) sorts first.
    ous = b"".join(sorted([ou(f"organization:{ORG}"), ou(f"space:{SPACE}"), ou(f"app:{APP}")]))
    cn = tlv(0x30, bytes.fromhex("0603550403") + tlv(0x13, GUID.encode()))
    body = bytes([0x31, 0x81, len(ous)]) + ous + tlv(0x31, cn)
    expected = bytes([0x30, 0x81, len(body)]) + body
    assert name.public_bytes() == expected
    assert [rdn._attributes[0].value for rdn in name.rdns] == [f"app:{APP}", GUID]  # noqa: SLF001
    assert len(name.rdns) == 2 and len(name.rdns[0]) == 3


def test_set_order_is_by_encoding_not_by_insertion():
    name = go_pkix_name("g", ["bb", "a", "ab"])
    encoded = [attribute_der(NameOID.ORGANIZATIONAL_UNIT_NAME, v) for v in ("a", "ab", "bb")]
    assert name.public_bytes().find(encoded[0]) < name.public_bytes().find(encoded[1]) \
        < name.public_bytes().find(encoded[2])


@pytest.mark.parametrize(("value", "tag"), [("app:x-1", 0x13), ("a*b", 0x0C), ("a&b", 0x0C),
                                            ("ünï", 0x0C), ("a_b", 0x0C), ("A b'()+,-./:=?", 0x13)])
def test_string_type_is_printable_only_when_go_would_choose_it(value, tag):
    assert attribute_der(NameOID.ORGANIZATIONAL_UNIT_NAME, value)[7] == tag
    # Name SEQ, SET, SEQ, OID 2.5.4.3 (5 bytes), then the CN's string tag
    assert go_pkix_name(value, []).public_bytes()[11] == tag


def test_empty_common_name_is_left_out():
    assert go_pkix_name("", ["app:x"]).rfc4514_string() == "OU=app:x"
    assert go_pkix_name("", []).public_bytes() == bytes([0x30, 0x00])


def test_openssl_prints_the_seed_subject(tmp_path):
    root = new_ca("appRootCA")
    inter = new_ca("instanceIdentityCA", issuer=root)
    cred = issue_instance_identity(inter, GUID, app_organizational_units(ORG, SPACE, APP),
                                   "10.255.1.7")
    (tmp_path / "instance.crt").write_bytes(cred.chain_pem)
    out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", "instance.crt"],
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert out.strip() == (f"subject=OU = app:{APP} + OU = space:{SPACE} + "
                           f"OU = organization:{ORG}, CN = {GUID}")
    assert isinstance(cred.cert.subject, x509.Name)
