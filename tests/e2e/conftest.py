"""One foundation for the whole e2e session, started with the real `cflab up` and always torn down."""

from __future__ import annotations

import sys

import pytest

from orchestrator import config
from orchestrator.foundation import Foundation
from tests.e2e.helpers import CONFIG, cflab


@pytest.fixture(scope="session")
def cfg() -> config.FoundationConfig:
    return config.load(CONFIG)


@pytest.fixture(scope="session")
def foundation(cfg):
    Foundation(cfg).down()  # leftovers of an interrupted run
    try:
        up = cflab("up", "--wait", "240")
        sys.stdout.write(up.stdout)
        yield Foundation(cfg)
    finally:
        Foundation(cfg).down()


@pytest.fixture(scope="session")
def jobs(foundation) -> dict[str, dict]:
    return foundation.job_states()


