"""Backend certificate name check with Go's rules and error text (crypto/x509 `VerifyHostname`).

OpenSSL's own hostname check only says "Hostname mismatch"; gorouter's
X-Cf-Routererror carries Go's HostnameError, which names what the certificate
*is* valid for (`x509: certificate is valid for <guid>, not <expected>`). So
the router verifies the chain with OpenSSL and the name here, once per new
TLS connection, from the parsed peer certificate (`SSLObject.getpeercert()`).
"""

from __future__ import annotations

import ipaddress
from typing import Any


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _names(cert: dict[str, Any]) -> tuple[list[str], list[str], bool]:
    """(DNS SANs, IP SANs as Go prints them, whether a SAN extension is present)."""
    sans = cert.get("subjectAltName")
    dns: list[str] = []
    ips: list[str] = []
    for kind, value in sans or ():
        if kind == "DNS":
            dns.append(value)
        elif kind == "IP Address":
            ip = _ip(value)
            ips.append(str(ip) if ip is not None else value.strip())
    return dns, ips, sans is not None


def _common_name(cert: dict[str, Any]) -> str:
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return ""


def _valid_hostname(host: str, is_pattern: bool) -> bool:
    """Go's validHostname: wildcards and trailing dots are handled only for these."""
    if not is_pattern:
        host = host.removesuffix(".")
    if not host or host == "*":
        return False
    for i, part in enumerate(host.split(".")):
        if not part:
            return False
        if is_pattern and i == 0 and part == "*":
            continue
        for j, c in enumerate(part):
            if not (c.isascii() and c.isalnum() or c == "_" or (c == "-" and j != 0)):
                return False
    return True


def _match_hostnames(pattern: str, host: str) -> bool:
    """Go's matchHostnames: a `*` matches one whole left-most label."""
    pattern, host = pattern.lower(), host.lower().removesuffix(".")
    if not pattern or not host:
        return False
    p_parts, h_parts = pattern.split("."), host.split(".")
    if len(p_parts) != len(h_parts):
        return False
    return all((i == 0 and p == "*") or p == h
               for i, (p, h) in enumerate(zip(p_parts, h_parts, strict=True)))


def _match_exactly(a: str, b: str) -> bool:
    return a not in ("", ".") and b not in ("", ".") and a.lower() == b.lower()


def hostname_error(cert: dict[str, Any], host: str) -> str | None:
    """None when `cert` is valid for `host`, else Go's HostnameError text."""
    dns, ips, has_san = _names(cert)
    candidate = host[1:-1] if len(host) >= 3 and host[0] == "[" and host[-1] == "]" else host
    ip = _ip(candidate) if candidate and candidate[0] not in "+-" else None
    if ip is not None:
        if str(ip) in ips:
            return None
        host = candidate
    else:
        valid_name = _valid_hostname(host.lower(), False)
        for match in dns:
            if valid_name and _valid_hostname(match, True):
                if _match_hostnames(match, host):
                    return None
            elif _match_exactly(match, host):
                return None
    if not has_san and _match_hostnames(_common_name(cert), host):
        return "x509: certificate relies on legacy Common Name field, use SANs instead"
    if ip is not None:
        if not ips:
            return (f"x509: cannot validate certificate for {host} because it doesn't "
                    "contain any IP SANs")
        valid = ", ".join(ips)
    else:
        valid = ", ".join(dns)
    if not valid:
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    return f"x509: certificate is valid for {valid}, not {host}"
