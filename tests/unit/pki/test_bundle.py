"""The PKI step: created once, split per job, keys 0600, CA keys only where they belong."""

from __future__ import annotations

import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from foundry.pki import bundle


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = tmp_path_factory.mktemp("secrets")
    bundle.init(path)
    return path


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_every_key_file_is_0600_and_certs_0644(root):
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    for path in files:
        expected = 0o600 if path.suffix == ".key" else 0o644
        assert _mode(path) == expected, path
    assert _mode(root / "pki") == 0o700


def test_each_job_gets_exactly_its_files(root):
    for job, files in bundle.JOB_FILES.items():
        assert sorted(p.name for p in (root / job).iterdir()) == sorted(files)


def test_no_root_ca_key_outside_pki(root):
    secrets = bundle.load(root / "pki")
    root_keys = {secrets.application_ca.key_pem, secrets.gorouter_backend_tls_ca.key_pem,
                 secrets.service_cf_internal_ca.key_pem}
    for job in bundle.JOB_FILES:
        for path in (root / job).iterdir():
            assert path.read_bytes() not in root_keys, path
    # The intermediate key reaches only the cells.
    identity_key = secrets.diego_instance_identity_ca.key_pem
    holders = [p.parent.name for p in root.rglob("*.key") if p.read_bytes() == identity_key]
    assert sorted(holders) == ["pki", "rep"]


def test_router_client_certificate(root):
    cert = x509.load_pem_x509_certificate((root / "gorouter" / "backends.crt").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["gorouter.service.cf.internal"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ca = x509.load_pem_x509_certificate((root / "rep" / "trusted_ca_certificates.crt").read_bytes())
    assert cert.issuer == ca.subject


def test_second_init_keeps_the_cas(root):
    before = (root / "pki" / "application_ca.crt").read_bytes()
    _, created = bundle.init(root)
    assert created is False
    assert (root / "pki" / "application_ca.crt").read_bytes() == before


def test_no_tmp_files_left(root):
    assert not list(root.rglob("*.tmp"))


def test_the_bbs_server_certificate_names_the_bbs_and_the_host_loopback(root):
    cert = x509.load_pem_x509_certificate((root / "bbs" / "bbs.crt").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "bbs.service.cf.internal" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    ca = x509.load_pem_x509_certificate((root / "bbs" / "ca.crt").read_bytes())
    assert cert.issuer == ca.subject


def test_bbs_client_keys_go_to_the_bbs_clients_and_the_hosts_to_no_job(root):
    secrets = bundle.load(root / "pki")
    jobs_key = secrets.diego_bbs_client.key_pem
    holders = sorted(p.parent.name for p in root.rglob("*.key") if p.read_bytes() == jobs_key)
    assert holders == ["cfdot", "cloud_controller", "dashboard", "pki", "rep", "route_emitter",
                       "ssh_proxy"]
    host_key = secrets.host_bbs_client.key_pem
    assert sorted(p.parent.name for p in root.rglob("*.key")
                  if p.read_bytes() == host_key) == ["host", "pki"]
    for job in ("host", "cfdot"):
        cert = x509.load_pem_x509_certificate((root / job / "client.crt").read_bytes())
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_a_pki_made_before_a_credential_existed_gets_it_from_the_same_cas(tmp_path):
    bundle.init(tmp_path)
    pki = tmp_path / "pki"
    ca_before = (pki / "service_cf_internal_ca.crt").read_bytes()
    router_before = (pki / "gorouter_backend_tls.crt").read_bytes()
    for name in ("diego_bbs_server", "diego_bbs_client"):  # as an older foundation's PKI
        (pki / f"{name}.crt").unlink()
        (pki / f"{name}.key").unlink()
    _, created = bundle.init(tmp_path)
    assert created is False
    assert (pki / "service_cf_internal_ca.crt").read_bytes() == ca_before
    assert (pki / "gorouter_backend_tls.crt").read_bytes() == router_before
    cert = x509.load_pem_x509_certificate((tmp_path / "bbs" / "bbs.crt").read_bytes())
    assert cert.issuer == x509.load_pem_x509_certificate(ca_before).subject
