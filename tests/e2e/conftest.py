"""One foundation for the whole e2e session, started with the real `cflab up` and always torn down."""

from __future__ import annotations

import subprocess
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


@pytest.fixture(scope="module")
def cf(foundation):
    """The host's `cf` pointed at the e2e foundation's Cloud Controller."""
    foundation.write_cf_config()
    env = {"CF_HOME": str(foundation.cf_home), "PATH": "/usr/bin:/bin:/usr/local/bin"}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "foundry.cli.cf", *args],
                              capture_output=True, text=True, env=env, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"cf {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc
    return run
