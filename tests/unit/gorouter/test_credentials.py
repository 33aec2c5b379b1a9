"""gorouter.yml with its credentials inline, as BOSH renders it (issue 13 A3)."""

from __future__ import annotations

import stat

import pytest
import yaml

from foundry.gorouter import config
from foundry.gorouter.credentials import VARIABLES, CredentialsError, interpolate, render
from foundry.pki import bundle
from orchestrator import config as foundation_config
from orchestrator.render import gorouter_yml


@pytest.fixture(scope="module")
def secrets(tmp_path_factory):
    root = tmp_path_factory.mktemp("secrets")
    bundle.init(root)
    return root / "gorouter"


def test_rendered_job_config_reads_back_with_pem_inline(tmp_path, secrets) -> None:
    manifest = tmp_path / "manifest" / "gorouter.yml"
    manifest.parent.mkdir()
    manifest.write_text(yaml.safe_dump(gorouter_yml(foundation_config.load())))
    out = tmp_path / "config" / "gorouter.yml"
    render(manifest, secrets, out)

    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds the backends private key
    text = out.read_text()
    assert "cert_chain: |" in text and "private_key: |" in text  # block scalars, as BOSH
    raw = yaml.safe_load(text)
    # what the seed's strict-mode procedure extracts to files for curl --cert/--key
    assert raw["backends"]["cert_chain"] == (secrets / "backends.crt").read_text()
    assert raw["backends"]["private_key"] == (secrets / "backends.key").read_text()
    assert raw["backends"]["private_key"].startswith("-----BEGIN")
    assert raw["ca_certs"] == [(secrets / "ca_certs.crt").read_text()]
    cfg = config.load(str(out))
    assert "-----BEGIN CERTIFICATE-----" in cfg.backend_cert_chain
    assert cfg.ca_certs == raw["ca_certs"]


def test_every_variable_the_renderer_writes_is_known() -> None:
    text = yaml.safe_dump(gorouter_yml(foundation_config.load()))
    used = {line.split("((")[1].split("))")[0] for line in text.splitlines() if "((" in line}
    assert used == set(VARIABLES)


def test_unknown_variable_and_missing_credential_name_the_key(tmp_path) -> None:
    with pytest.raises(CredentialsError, match=r"backends\.cert_chain: unknown variable"):
        interpolate({"backends": {"cert_chain": "((nope.certificate))"}}, tmp_path)
    with pytest.raises(CredentialsError, match=r"ca_certs\[0\]: .*no credential"):
        interpolate({"ca_certs": ["((application_ca.certificate))"]}, tmp_path)


def test_cli_reports_a_bad_manifest(tmp_path, capsys) -> None:
    from foundry.gorouter.__main__ import main

    manifest = tmp_path / "m.yml"
    manifest.write_text("backends: {cert_chain: ((x.y))}\n")
    assert main(["--interpolate", str(manifest), "--secrets", str(tmp_path),
                 "-c", str(tmp_path / "out.yml")]) == 2
    assert "unknown variable ((x.y))" in capsys.readouterr().err
