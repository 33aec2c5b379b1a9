"""A certificate Subject encoded the way Go's ``crypto/x509`` encodes a ``pkix.Name``.

The executor's credmanager builds the instance identity Subject as
``pkix.Name{CommonName: guid, OrganizationalUnit: ous}``. Go turns that into an
RDNSequence with all OU values in ONE multi-valued RDN, then the CN in its own RDN
(``pkix.Name.ToRDNSequence``). A SET OF is DER-sorted by the encoding of its members
since Go 1.15, and a string is a PrintableString when every character allows it, else
a UTF8String (``encoding/asn1``). openssl then prints
``OU = app:… + OU = space:… + OU = organization:…, CN = <guid>``. An empty CN is left
out, as Go leaves out every empty attribute.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

# encoding/asn1 isPrintable, called with rejectAsterisk and rejectAmpersand.
_PRINTABLE = frozenset(string.ascii_letters + string.digits + " '()+,-./:=?")
_OID_DER = {NameOID.ORGANIZATIONAL_UNIT_NAME: bytes.fromhex("060355040b"),
            NameOID.COMMON_NAME: bytes.fromhex("0603550403")}
_TAG = {_ASN1Type.PrintableString: 0x13, _ASN1Type.UTF8String: 0x0C}


def go_string_type(value: str) -> _ASN1Type:
    """The ASN.1 string type Go's marshaller picks for an untagged string."""
    return _ASN1Type.PrintableString if set(value) <= _PRINTABLE else _ASN1Type.UTF8String


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def attribute_der(oid: x509.ObjectIdentifier, value: str) -> bytes:
    """DER of one AttributeTypeAndValue, the key Go sorts a SET OF by."""
    body = _OID_DER[oid] + _der_tlv(_TAG[go_string_type(value)], value.encode())
    return _der_tlv(0x30, body)


def _attribute(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute:
    return x509.NameAttribute(oid, value, _type=go_string_type(value))


def go_pkix_name(common_name: str, organizational_units: Sequence[str]) -> x509.Name:
    """``pkix.Name{CommonName, OrganizationalUnit}`` as Go marshals it."""
    rdns = []
    ous = sorted(organizational_units,
                 key=lambda ou: attribute_der(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    if ous:
        rdns.append(x509.RelativeDistinguishedName(
            [_attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou) for ou in ous]))
    if common_name:
        rdns.append(x509.RelativeDistinguishedName(
            [_attribute(NameOID.COMMON_NAME, common_name)]))
    return x509.Name(rdns)
