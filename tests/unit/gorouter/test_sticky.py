"""Sticky sessions: __VCAP_ID__ honoured only with JSESSIONID (gorouter code, not the docs)."""

from __future__ import annotations

from foundry.gorouter.sticky import requested_instance, vcap_id_cookie


def test_vcap_id_alone_is_ignored() -> None:
    assert requested_instance(["__VCAP_ID__=g1"]) == ""
    assert requested_instance(["JSESSIONID=x; __VCAP_ID__=g1"]) == "g1"
    assert requested_instance(["JSESSIONID=x", "__VCAP_ID__=g1"]) == "g1"
    assert requested_instance(["SESSION=x; __VCAP_ID__=g1"],
                              frozenset({"SESSION"})) == "g1"


def test_cookie_set_when_backend_sets_jsessionid() -> None:
    c = vcap_id_cookie(["JSESSIONID=abc; Path=/; Secure; SameSite=Lax"], "g1", "", "/api")
    assert c == "__VCAP_ID__=g1; Path=/api; HttpOnly; Secure; SameSite=Lax"


def test_no_cookie_without_jsessionid() -> None:
    assert vcap_id_cookie(["other=1"], "g1", "") is None
    assert vcap_id_cookie([], "g1", "") is None


def test_no_cookie_if_app_sets_vcap_id_itself() -> None:
    assert vcap_id_cookie(["JSESSIONID=a", "__VCAP_ID__=mine"], "g1", "") is None


def test_cookie_reset_when_served_by_another_instance() -> None:
    assert vcap_id_cookie([], "g2", "g1") == "__VCAP_ID__=g2; Path=/; HttpOnly"
    assert vcap_id_cookie([], "g1", "g1") is None


def test_expiry_attributes_copied() -> None:
    c = vcap_id_cookie(["JSESSIONID=a; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Max-Age=-1"],
                       "g1", "", secure_cookies=True)
    assert c == ("__VCAP_ID__=g1; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Max-Age=0; "
                 "HttpOnly; Secure")
