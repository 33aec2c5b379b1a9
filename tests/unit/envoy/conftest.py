"""Certificates and fixture-file helpers for the proxy's unit tests."""

from __future__ import annotations

import pytest

from foundry.pki import ca
from tests.envoy_support import FIXTURES, fill_markers


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
