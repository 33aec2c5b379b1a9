"""Serial and validity read from DER without an X.509 library; CF's rotation schedule."""

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from foundry.dashboard.certs import CertificateError, CertInfo, Identity, next_rotation, parse_der

KEY = ec.generate_private_key(ec.SECP256R1())


def cert(serial: int, not_before: dt.datetime, not_after: dt.datetime) -> bytes:
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "inst-guid")])
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(KEY.public_key()).serial_number(serial)
         .not_valid_before(not_before).not_valid_after(not_after)
         .sign(KEY, hashes.SHA256()))
    return c.public_bytes(serialization.Encoding.DER)


UTC = dt.UTC


@pytest.mark.parametrize("year", [2026, 2051])  # UTCTime, then GeneralizedTime after 2049
def test_parse_der_reads_serial_and_validity(year):
    nb = dt.datetime(year, 1, 2, 3, 4, 5, tzinfo=UTC)
    na = nb + dt.timedelta(hours=24)
    info = parse_der(cert(0x1F2E3D4C5B6A79880, nb, na))
    assert info == CertInfo("1f2e3d4c5b6a79880", nb.timestamp(), na.timestamp())


@pytest.mark.parametrize("der", [b"", b"\x30", b"\x04\x01\x00", b"\x30\x82\xff\xff\x00"])
def test_parse_der_rejects_garbage(der):
    with pytest.raises(CertificateError):
        parse_der(der)


def test_rotation_is_30_minutes_before_expiry_for_long_validity():
    assert next_rotation(0, 24 * 3600) == 24 * 3600 - 1800


def test_rotation_is_at_seven_eighths_for_short_validity():
    assert next_rotation(100, 160) == 160 - 7.5


def test_identity_records_rotations_only_when_the_serial_changes():
    ident = Identity("inst")
    assert ident.observe(CertInfo("aa", 0, 60), now=1) is True
    assert ident.observe(CertInfo("aa", 0, 60), now=2) is False
    assert ident.observe(CertInfo("bb", 52, 112), now=53) is True
    row = ident.row()
    assert row["serial"] == "bb" and row["rotations"] == 1
    assert [h["serial"] for h in row["history"]] == ["aa", "bb"]
    assert row["next_rotation"] == 112 - 7.5
