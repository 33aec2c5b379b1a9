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
