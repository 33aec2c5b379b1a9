"""Certificates and fixture-file helpers for the proxy's unit tests."""

from __future__ import annotations

import pathlib

import pytest

from foundry.pki import ca

FIXTURES = pathlib.Path("/work/shared/fixtures")
if not FIXTURES.exists():
    FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures"


def fill_markers(text: str, chain: bytes, key: bytes) -> str:
    """Replace ``__CERT_CHAIN__``/``__PRIVATE_KEY__`` lines with indented PEM."""
    out = []
    for line in text.splitlines():
        for marker, pem in (("__CERT_CHAIN__", chain), ("__PRIVATE_KEY__", key)):
            if line.strip() == marker:
                indent = line[: len(line) - len(line.lstrip())]
                out += [indent + p for p in pem.decode().strip().splitlines()]
                break
        else:
            out.append(line)
    return "\n".join(out) + "\n"


@pytest.fixture(scope="session")
def pki() -> dict:
    root = ca.new_ca("instance root")
    inter = ca.new_ca("instance intermediate", issuer=root)
    guid = ca.new_instance_guid()
    inst = ca.issue_instance_identity(inter, guid, ["app:x"], "10.255.1.2")
    return {"root": root, "inter": inter, "instance": inst, "guid": guid}


@pytest.fixture
def fixture_text() -> callable:
    def load(name: str) -> str:
        return (FIXTURES / name).read_text()
    return load


@pytest.fixture
def fill() -> callable:
    return fill_markers
