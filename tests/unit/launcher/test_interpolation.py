from __future__ import annotations

import json

import pytest

from foundry.launcher.interpolation import (
    InterpolationError,
    apply_answer,
    build_request,
    needs_interpolation,
    response_error,
)

REF = {"db": [{"name": "d", "credentials": {"credhub-ref": "((/c/x/credentials))"}}]}
ENV = {"VCAP_SERVICES": json.dumps(REF),
       "VCAP_PLATFORM_OPTIONS": json.dumps({"credhub-uri": "https://credhub.service.cf.internal:8844"}),
       "CF_INSTANCE_CERT": "/etc/cf-instance-credentials/instance.crt",
       "CF_INSTANCE_KEY": "/etc/cf-instance-credentials/instance.key",
       "CF_SYSTEM_CERT_PATH": "/etc/cf-system-certificates"}


def test_needs_interpolation():
    assert needs_interpolation(ENV)
    assert not needs_interpolation({**ENV, "CREDHUB_SKIP_INTERPOLATION": "true"})
    assert not needs_interpolation({**ENV, "VCAP_SERVICES": '{"db": [{"credentials": {}}]}'})
    assert not needs_interpolation({})


def test_build_request():
    req = build_request(ENV, ["system_ca.crt", "README", "other.crt"])
    assert (req.host, req.port, req.path) == ("credhub.service.cf.internal", 8844,
                                              "/api/v1/interpolate")
    assert json.loads(req.body) == REF
    assert req.ca_files == ("/etc/cf-system-certificates/other.crt",
                            "/etc/cf-system-certificates/system_ca.crt")


@pytest.mark.parametrize("change", [
    {"VCAP_PLATFORM_OPTIONS": ""}, {"VCAP_PLATFORM_OPTIONS": "{"},
    {"VCAP_PLATFORM_OPTIONS": "{}"}, {"CF_INSTANCE_CERT": ""},
    {"VCAP_PLATFORM_OPTIONS": json.dumps({"credhub-uri": "http://x"})},
    {"VCAP_SERVICES": "not json \"credhub-ref\""}])
def test_build_request_errors(change):
    with pytest.raises(InterpolationError):
        build_request({**ENV, **change}, ["system_ca.crt"])


def test_no_system_certs_is_an_error():
    with pytest.raises(InterpolationError, match="CF_SYSTEM_CERT_PATH"):
        build_request(ENV, [])


def test_apply_answer():
    answer = {"db": [{"name": "d", "credentials": {"password": "pw"}}]}
    out = apply_answer(dict(ENV), json.dumps(answer).encode())
    assert json.loads(out["VCAP_SERVICES"]) == answer
    assert "VCAP_PLATFORM_OPTIONS" not in out
    assert out["CF_INSTANCE_CERT"] == ENV["CF_INSTANCE_CERT"]
    with pytest.raises(InterpolationError):
        apply_answer(dict(ENV), b"[1]")
    assert response_error(403, b'{"error": "nope"}') == "CredHub answered 403: nope"
