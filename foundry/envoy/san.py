"""Subject-alt-name matching as Envoy's ``match_subject_alt_names`` does it (sans-IO)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .model import StringMatcher

# getpeercert() spells SAN types this way; Envoy matches every type.
SAN_TYPES = {"DNS", "IP Address", "URI", "email"}


def matches(matcher: StringMatcher, value: str) -> bool:
    subject, want = value, matcher.value
    if matcher.ignore_case:
        subject, want = subject.lower(), want.lower()
    kind = matcher.kind
    if kind == "exact":
        return subject == want
    if kind == "prefix":
        return subject.startswith(want)
    if kind == "suffix":
        return subject.endswith(want)
    if kind == "contains":
        return want in subject
    if kind == "safe_regex":
        flags = re.IGNORECASE if matcher.ignore_case else 0
        return re.fullmatch(matcher.value, value, flags) is not None
    return False


def peer_sans(peercert: dict | None) -> list[str]:
    """SAN values from ``SSLObject.getpeercert()``."""
    if not peercert:
        return []
    return [v for t, v in peercert.get("subjectAltName", ()) if t in SAN_TYPES]


def san_allowed(matchers: Iterable[StringMatcher], sans: Iterable[str]) -> bool:
    """True when no matcher is configured or any SAN matches any matcher."""
    matchers = tuple(matchers)
    if not matchers:
        return True
    sans = list(sans)
    return any(matches(m, s) for m in matchers for s in sans)
