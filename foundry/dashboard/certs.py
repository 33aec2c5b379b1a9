"""Instance identity certificates as the dashboard sees them: serial, validity, rotation.

The dashboard reads the leaf a proxy presents (a TLS handshake to the instance's
host TLS port) and needs only three fields of it, so a few lines of DER walking
stand in for a full X.509 library (which would cost the job ~10 MB of RSS).
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field


class CertificateError(ValueError):
    """The bytes are not the DER certificate the dashboard expects."""


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the DER element at `pos`."""
    if pos + 2 > len(data):
        raise CertificateError("truncated DER element")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise CertificateError("bad DER length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    end = pos + length
    if end > len(data):
        raise CertificateError("DER element runs past the end")
    return tag, pos, end


def _time(tag: int, raw: bytes) -> float:
    text = raw.decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise CertificateError(f"validity: unexpected time tag {tag:#x}")
    if not text.endswith("Z") or len(text) != 15:
        raise CertificateError(f"validity: unsupported time {text!r}")
    return float(calendar.timegm(time.strptime(text[:14], "%Y%m%d%H%M%S")))


@dataclass(frozen=True)
class CertInfo:
    serial: str  # lower-case hex, as Envoy's /certs prints it
    not_before: float
    not_after: float


def parse_der(der: bytes) -> CertInfo:
    """Serial and validity of an X.509 certificate in DER."""
    try:
        tag, pos, _ = _tlv(der, 0)  # Certificate
        if tag != 0x30:
            raise CertificateError("not a DER SEQUENCE")
        tag, pos, _ = _tlv(der, pos)  # tbsCertificate
        if tag != 0x30:
            raise CertificateError("no tbsCertificate")
        tag, start, end = _tlv(der, pos)
        if tag == 0xA0:  # [0] version
            tag, start, end = _tlv(der, end)
        if tag != 0x02:
            raise CertificateError("no serial number")
        serial = int.from_bytes(der[start:end], "big", signed=True)
        _, _, end = _tlv(der, end)  # signature algorithm
        _, _, end = _tlv(der, end)  # issuer
        tag, pos, _ = _tlv(der, end)  # validity
        if tag != 0x30:
            raise CertificateError("no validity")
        t1, s1, e1 = _tlv(der, pos)
        t2, s2, e2 = _tlv(der, e1)
        return CertInfo(serial=format(serial, "x"), not_before=_time(t1, der[s1:e1]),
                        not_after=_time(t2, der[s2:e2]))
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, CertificateError):
            raise
        raise CertificateError(str(exc)) from None


def next_rotation(not_before: float, not_after: float) -> float:
    """When the cell replaces the cert (executor credmanager): 30 min before expiry when
    the validity is over 4 h, else when an eighth of the validity is left."""
    validity = not_after - not_before
    if validity > 4 * 3600:
        return not_after - 30 * 60
    return not_after - validity / 8


@dataclass
class Identity:
    """What the dashboard knows of one instance's identity over time."""

    instance_guid: str
    serial: str = ""
    not_before: float = 0.0
    not_after: float = 0.0
    history: list[dict] = field(default_factory=list)  # {serial, seen_at, not_after}, oldest first
    error: str = ""

    def observe(self, info: CertInfo, now: float) -> bool:
        """Record a presented cert; True when it is a new one (first sight or a rotation)."""
        self.error = ""
        if info.serial == self.serial:
            return False
        self.serial, self.not_before, self.not_after = info.serial, info.not_before, info.not_after
        self.history.append({"serial": info.serial, "seen_at": now, "not_after": info.not_after})
        del self.history[:-10]
        return True

    def row(self) -> dict:
        return {"instance_guid": self.instance_guid, "serial": self.serial,
                "not_before": self.not_before, "not_after": self.not_after,
                "next_rotation": (next_rotation(self.not_before, self.not_after)
                                  if self.serial else 0.0),
                "rotations": max(0, len(self.history) - 1),
                "history": list(self.history), "error": self.error}
