"""Envoy (BoringSSL) cipher-suite syntax mapped to an OpenSSL cipher string.

Envoy accepts a list of names where ``[A|B]`` is an equal-preference group:
the server does not prefer A over B, the client's order decides. OpenSSL has no
groups, so a list made only of one group becomes "client preference" and mixed
lists keep server preference in the written order (groups flattened). IANA
names (``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256``) are mapped to OpenSSL names.
TLS 1.3 suites are not configurable in Envoy, so they are dropped with a note.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass

# Envoy's default server cipher list (source/common/tls/context_config_impl.cc).
DEFAULT_SERVER_CIPHERS = (
    "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]",
    "[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
)

_IANA_TO_OPENSSL = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
}
# BoringSSL spellings that OpenSSL names differently.
_BORING_ALIASES = {
    "ECDHE-ECDSA-CHACHA20-POLY1305-OLD": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305-OLD": "ECDHE-RSA-CHACHA20-POLY1305",
}
_TLS13 = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


class CipherError(ValueError):
    pass


@dataclass(frozen=True)
class CipherSpec:
    openssl: str  # e.g. "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
    server_preference: bool
    notes: tuple[str, ...] = ()


def _split_entries(entries: Iterable[str]) -> list[str]:
    """Entries may themselves be ':'-joined lists (Envoy joins the list with ':')."""
    out: list[str] = []
    for entry in entries:
        depth = 0
        cur = ""
        for ch in entry.strip():
            if ch == "[":
                depth += 1
                if depth > 1:
                    raise CipherError(f"nested '[' in {entry!r}")
            elif ch == "]":
                depth -= 1
                if depth < 0:
                    raise CipherError(f"unbalanced ']' in {entry!r}")
            if ch == ":" and depth == 0:
                out.append(cur)
                cur = ""
            else:
                cur += ch
        if depth != 0:
            raise CipherError(f"unbalanced '[' in {entry!r}")
        out.append(cur)
    return [e.strip() for e in out if e.strip()]


def _openssl_name(name: str) -> str:
    if not _NAME.match(name):
        raise CipherError(f"invalid cipher name {name!r}")
    name = _IANA_TO_OPENSSL.get(name, name)
    name = _BORING_ALIASES.get(name, name)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(name)
    except ssl.SSLError:
        raise CipherError(f"unknown cipher {name!r}") from None
    return name


def parse_cipher_suites(entries: Iterable[str] | None) -> CipherSpec:
    """Translate Envoy's ``tls_params.cipher_suites`` into an OpenSSL cipher string."""
    items = _split_entries(list(entries) if entries else DEFAULT_SERVER_CIPHERS)
    names: list[str] = []
    notes: list[str] = []
    groups = 0
    for item in items:
        if item.startswith("["):
            groups += 1
            members = [m.strip() for m in item[1:-1].split("|")]
            if not item.endswith("]") or not all(members):
                raise CipherError(f"malformed group {item!r}")
        else:
            if "|" in item or "]" in item:
                raise CipherError(f"'|' outside a [..] group in {item!r}")
            members = [item]
        for member in members:
            if member in _TLS13:
                notes.append(f"{member} is TLS 1.3 and not configurable; ignored")
                continue
            name = _openssl_name(member)
            if name not in names:
                names.append(name)
    if not names:
        raise CipherError("no usable cipher suites")
    # A single group means "all equal": let the client's order decide.
    single_group = groups == 1 and len(items) == 1
    return CipherSpec(":".join(names), server_preference=not single_group, notes=tuple(notes))
