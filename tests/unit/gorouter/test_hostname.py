"""Go's x509 hostname check and HostnameError text, on parsed peer certificates."""

from __future__ import annotations

import pytest

from foundry.gorouter.hostname import hostname_error


def cert(*sans: tuple[str, str], cn: str = "x", san_ext: bool = True) -> dict:
    out: dict = {"subject": ((("commonName", cn),),)}
    if san_ext:
        out["subjectAltName"] = sans
    return out


GUID = "a1b2c3d4-0000-4000-8000-0000"


@pytest.mark.parametrize("c,host", [
    (cert(("DNS", GUID), ("IP Address", "10.255.1.5")), GUID),
    (cert(("DNS", GUID.upper())), GUID),
    (cert(("DNS", "*.apps.internal")), "web.apps.internal"),
    (cert(("DNS", "web.apps.internal")), "web.apps.internal."),
    (cert(("IP Address", "10.0.0.1")), "10.0.0.1"),
    (cert(("IP Address", "2001:DB8:0:0:0:0:0:1\n")), "[2001:db8::1]"),
])
def test_matches(c: dict, host: str) -> None:
    assert hostname_error(c, host) is None


def test_mismatch_names_the_dns_sans_not_the_ips() -> None:
    c = cert(("DNS", GUID), ("IP Address", "10.255.1.5"))
    assert hostname_error(c, "other-guid") == \
        f"x509: certificate is valid for {GUID}, not other-guid"


def test_several_names_are_listed_in_order() -> None:
    c = cert(("DNS", "a"), ("DNS", "b"))
    assert hostname_error(c, "c") == "x509: certificate is valid for a, b, not c"


def test_wildcard_covers_one_label_only() -> None:
    c = cert(("DNS", "*.apps.internal"))
    assert hostname_error(c, "a.b.apps.internal") is not None


def test_no_names_at_all() -> None:
    assert hostname_error(cert(san_ext=False), "g") == \
        "x509: certificate is not valid for any names, but wanted to match g"


def test_common_name_alone_is_not_trusted() -> None:
    assert hostname_error(cert(cn="g", san_ext=False), "g") == \
        "x509: certificate relies on legacy Common Name field, use SANs instead"


def test_ip_host() -> None:
    assert hostname_error(cert(("DNS", "a")), "10.0.0.2") == \
        "x509: cannot validate certificate for 10.0.0.2 because it doesn't contain any IP SANs"
    assert hostname_error(cert(("IP Address", "10.0.0.1")), "10.0.0.2") == \
        "x509: certificate is valid for 10.0.0.1, not 10.0.0.2"
