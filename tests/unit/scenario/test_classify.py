"""One request through the router: who answered decides intended vs misrouted."""

from __future__ import annotations

import json

from orchestrator.scenario.classify import ERROR, INTENDED, MISROUTED, classify, failure


def body(app: str, guid: str = "g1", serial: str = "0A") -> bytes:
    return json.dumps({"app_name": app, "instance_guid": guid,
                       "certificate": {"serial": serial, "not_after": "x"}}).encode()


def test_answer_from_the_routes_app_is_intended():
    s = classify("app-a", 200, {"X-Cf-App-Name": "app-a", "X-Cf-Instance-Guid": "g1"},
                 body("app-a"), t=1.5, phase="p")
    assert (s.outcome, s.answered_by, s.instance_guid, s.cert_serial, s.t, s.phase) == (
        INTENDED, "app-a", "g1", "0A", 1.5, "p")


def test_answer_from_another_app_is_misrouted():
    s = classify("app-a", 200, {"x-cf-app-name": "app-b"}, body("app-b", "g2"))
    assert s.outcome == MISROUTED and s.answered_by == "app-b" and s.instance_guid == "g2"


def test_body_identifies_when_headers_are_missing():
    assert classify("app-a", 200, {}, body("app-b")).outcome == MISROUTED


def test_router_errors_keep_status_and_reason():
    s = classify("app-a", 404, {"X-Cf-Routererror": "unknown_route"}, b"404 Not Found")
    assert (s.outcome, s.status, s.reason, s.error_key) == (ERROR, 404, "unknown_route",
                                                            "404 unknown_route")
    s = classify("app-a", 503, {"X-Cf-Routererror": "endpoint_failure (hostname mismatch)"}, b"")
    assert s.error_key == "503 endpoint_failure (hostname mismatch)"


def test_app_error_and_unidentified_200():
    assert classify("a", 500, {}, b"boom").reason == "app_error"
    s = classify("a", 200, {}, b"<html>hello</html>")
    assert (s.outcome, s.reason) == (ERROR, "unidentified_answer")


def test_no_response_is_an_error_with_status_zero():
    s = failure("a", ConnectionRefusedError(), t=2.0)
    assert (s.outcome, s.status, s.reason) == (ERROR, 0, "connection_refused")
    assert failure("a", TimeoutError()).reason == "timeout"


def test_sample_json_drops_empty_fields():
    s = classify("a", 404, {"X-Cf-Routererror": "unknown_route"}, b"")
    assert s.to_json() == {"t": 0.0, "route": "a", "outcome": "error", "status": 404,
                           "reason": "unknown_route"}
