"""cfdot's TLS settings: real cfdot's flags, environment variables and messages."""

from __future__ import annotations

import io

import pytest

from foundry.cli import cfdot
from foundry.pki.ca import issue_leaf, new_ca


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    where = tmp_path_factory.mktemp("cfdot-tls")
    ca = new_ca("serviceCfInternalCA")
    client = issue_leaf(ca, "bbs_client", server_auth=False, client_auth=True)
    (where / "ca.crt").write_bytes(ca.cert_pem)
    (where / "client.crt").write_bytes(client.chain_pem)
    (where / "client.key").write_bytes(client.key_pem)
    return {"ca": str(where / "ca.crt"), "cert": str(where / "client.crt"),
            "key": str(where / "client.key")}


def resolve(argv: list[str], env: dict[str, str]) -> cfdot.BBSTarget:
    return cfdot.resolve_target(cfdot.build_parser().parse_args([*argv, "cells"]), env)


def test_http_needs_nothing_else():
    assert resolve(["--bbsURL", "http://bbs:8889"], {}) == cfdot.BBSTarget("http://bbs:8889")


def test_the_environment_as_a_diego_cell_sets_it(files):
    target = resolve([], {"BBS_URL": "https://bbs.service.cf.internal:8889",
                          "CA_CERT_FILE": files["ca"], "CLIENT_CERT_FILE": files["cert"],
                          "CLIENT_KEY_FILE": files["key"]})
    assert target.url == "https://bbs.service.cf.internal:8889" and target.tls is not None


def test_flags_win_over_the_environment(files):
    target = resolve(["--bbsURL", "https://127.0.0.1:8889", "--caCertFile", files["ca"],
                      "--clientCertPath", files["cert"], "--clientKeyPath", files["key"]],
                     {"BBS_URL": "https://elsewhere:1", "CA_CERT_FILE": "/nope"})
    assert target.url == "https://127.0.0.1:8889"


@pytest.mark.parametrize("argv, env, message", [
    ([], {}, "BBS URL not set. Please specify one with the '--bbsURL' flag"),
    (["--bbsURL", "ftp://bbs"], {}, "does not have an 'http' or 'https' scheme"),
    (["--bbsURL", "https://bbs:8889"], {},
     "--caCertFile must be specified if using HTTPS and --skipCertVerify is not set"),
    (["--bbsURL", "https://bbs:8889", "--skipCertVerify"], {},
     "--clientCertFile and --clientKeyFile must both be specified for TLS connections."),
    (["--bbsURL", "https://bbs:8889"], {"SKIP_CERT_VERIFY": "maybe"},
     "The value 'maybe' is not a valid value for SKIP_CERT_VERIFY"),
    (["--bbsURL", "https://bbs:8889", "--caCertFile", "/no/ca.crt"], {},
     "CA cert file '/no/ca.crt' doesn't exist or is not readable"),
])
def test_bad_settings_exit_3_with_cfdots_words(argv, env, message, monkeypatch):
    for name in ("BBS_URL", "CA_CERT_FILE", "CLIENT_CERT_FILE", "CLIENT_KEY_FILE",
                 "SKIP_CERT_VERIFY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    err = io.StringIO()
    assert cfdot.main([*argv, "cells"], out=io.StringIO(), err=err) == 3
    assert message in err.getvalue()


def test_a_key_that_is_not_a_key_is_named(files, tmp_path):
    bad = tmp_path / "client.key"
    bad.write_text("not a key")
    with pytest.raises(cfdot.CFDotError, match="cannot use the TLS files"):
        resolve(["--bbsURL", "https://bbs:8889", "--caCertFile", files["ca"],
                 "--clientCertFile", files["cert"], "--clientKeyFile", str(bad)], {})
