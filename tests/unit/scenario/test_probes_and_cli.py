"""Direct-access probe commands and verdicts; the scenario CLI without Docker."""

from __future__ import annotations

import argparse

import pytest

from orchestrator.scenario import cli, probes, runner, schema


def test_curl_without_cert_skips_verification():
    script = probes.curl_script("10.241.0.5", 61001, client_cert=False)
    assert "-k" in script and "--cert" not in script and "https://10.241.0.5:61001/" in script


def test_curl_with_router_cert_verifies_the_instance_identity():
    script = probes.curl_script("10.241.0.5", 61001, client_cert=True, server_name="guid-1")
    assert "--cert /secrets/backends.crt" in script and "--key /secrets/backends.key" in script
    assert "--cacert /secrets/ca_certs.crt" in script
    assert "--resolve guid-1:61001:10.241.0.5" in script and "https://guid-1:61001/" in script


def test_judge():
    assert probes.judge('{"app_name": "web"}\n200', "web").ok
    bad = probes.judge("curl: (56) OpenSSL SSL_read: tlsv13 alert certificate required\n000",
                       "web")
    assert not bad.ok and bad.detail.startswith("http 000: curl: (56)")


def parse(argv):
    p = argparse.ArgumentParser()
    cli.add_parser(p.add_subparsers(dest="command"))
    return p.parse_args(argv)


def test_parser_shapes():
    args = parse(["scenario", "run", "nats-outage", "--mode", "strict", "--out", "/tmp/x"])
    assert (args.name, args.mode, str(args.out)) == ("nats-outage", ["strict"], "/tmp/x")
    assert args.func is cli.run_command
    assert parse(["scenario", "run", "nats-outage", "--all-modes"]).all_modes
    with pytest.raises(SystemExit):
        parse(["scenario", "run", "x", "--mode", "strict", "--all-modes"])


def test_list_prints_every_scenario(capsys):
    assert cli.run_command(parse(["scenario", "list"])) == 0
    out = capsys.readouterr().out
    assert "stale-route-port-reuse" in out and "cell-loss" in out


def test_unknown_scenario_exits_2(capsys):
    assert cli.run_command(parse(["scenario", "run", "nope"])) == 2
    assert "no scenario 'nope'" in capsys.readouterr().err


def test_bad_file_exits_2_naming_the_step(tmp_path, capsys):
    f = tmp_path / "bad.yml"
    f.write_text("name: bad\napps: [{name: a}]\nsteps:\n  - observe: 1s\n  - wait: {until: x}\n")
    assert cli.run_command(parse(["scenario", "run", str(f)])) == 2
    assert "steps[1].wait.until: unknown condition 'x'" in capsys.readouterr().err


def test_foundation_config_is_isolated_and_compressed():
    sc = schema.load_file(schema.discover()["stale-route-port-reuse"])
    cfg = runner.foundation_config(sc, "strict")
    assert (cfg.project, cfg.mode, cfg.cells) == ("cflab-scn", "strict", 1)
    assert cfg.ports["http"] == 28080
    assert cfg.timings["droplet_stale_threshold"] == 30
    assert runner.foundation_config(sc, "strict", project="other").project == "other"


# -- CredHub probes (pure parts) --------------------------------------------------------

REF = "((/c/cflab-broker/svc/bind-1/credentials))"
CF_ENV = f"""Getting env variables for app vault in org cflab-org / space dev as admin...
OK

System-Provided:
{{
 "VCAP_SERVICES": {{
  "cflab-db": [
   {{
    "name": "vault-db",
    "credentials": {{
     "credhub-ref": "{REF}"
    }}
   }}
  ]
 }}
}}

{{
 "VCAP_APPLICATION": {{"application_name": "vault"}}
}}
"""


def test_vcap_services_from_cf_env():
    vcap = probes.vcap_services_from_env(CF_ENV)
    assert vcap == {"cflab-db": [{"name": "vault-db", "credentials": {"credhub-ref": REF}}]}
    assert probes.credhub_refs(vcap) == [REF]
    assert probes.vcap_services_from_env("OK\n") == {}
    assert probes.credhub_refs(probes.vcap_services_from_env(
        '"VCAP_SERVICES": {}')) == []


def test_only_references_is_the_cloud_controllers_view():
    ok = probes.only_references(probes.vcap_services_from_env(CF_ENV))
    assert ok.ok and REF in ok.detail
    leaked = probes.only_references({"cflab-db": [{"credentials": {"password": "pw"}}]})
    assert not leaked.ok and "password" in leaked.detail and "pw" not in leaked.detail
    assert not probes.only_references({}).ok


def test_interpolate_script_uses_the_instance_identity():
    script = probes.interpolate_script()
    assert '--cert "${CF_INSTANCE_CERT:-/etc/cf-instance-credentials/instance.crt}"' in script
    assert '--key "${CF_INSTANCE_KEY:-/etc/cf-instance-credentials/instance.key}"' in script
    assert "--cacert /etc/cf-system-certificates/system_ca.crt" in script
    assert "POST https://credhub.service.cf.internal:8844/api/v1/interpolate" in script
    assert f"-d @{probes.VCAP_FILE}" in script


def test_judge_interpolate():
    assert probes.judge_interpolate("200\n['password', 'username']\n") == (
        200, "http 200: interpolated, credential fields ['password', 'username']")
    status, detail = probes.judge_interpolate('403\n{"error": "no read"}\n')
    assert status == 403 and detail == 'http 403: {"error": "no read"}'
    status, detail = probes.judge_interpolate("000\n\ncurl: (6) Could not resolve host\n")
    assert status == 0 and "Could not resolve host" in detail
    assert probes.judge_interpolate("sh: curl: not found")[0] == 0


def test_credentials_masked():
    page = {"app_name": "vault", "service_credentials": {
        "vault-db": {"username": "u", "password": "****", "uri": "db://u:****@h/db"}}}
    shown = probes.credentials_masked(page)
    assert shown.ok and "vault-db" in shown.detail and "****" not in shown.detail
    assert not probes.credentials_masked({"service_credentials": {}}).ok
    assert not probes.credentials_masked(
        {"service_credentials": {"vault-db": {"credhub-ref": REF}}}).ok
    assert not probes.credentials_masked(
        {"service_credentials": {"vault-db": {"username": "u"}}}).ok
