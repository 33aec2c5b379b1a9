"""One foundation for the whole e2e session, started with the real `cflab up` and always torn down."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import config, render
from orchestrator.foundation import Foundation
from tests.e2e import soak_background
from tests.e2e.helpers import CONFIG, cflab

# Modules that start foundations of their own (a scenario's compressed timings, the swarm,
# the lab). They run before the session foundation is up, not beside it: with it running
# in the background (its jobs, apps and dashboard), each of them took 1.4-2.4x as long as
# alone (strict-direct-access 60 s in CI against 25 s alone), which pushed `make test`
# past CI's budget.
OWN_FOUNDATION = ("test_envoy.py", "test_scenarios.py", "test_lab.py", "test_swarm.py")
# The exception: the soak runs beside the session foundation's tests (soak_background.py
# says why); its test comes last and waits for it.
SOAK = "test_soak.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Within the e2e tests, those with their own foundations first, the soak's last (a
    stable sort: the rest keep their order, and tests outside tests/e2e are not moved)."""
    here = Path(__file__).parent

    def rank(item: pytest.Item) -> int:
        if item.path.parent != here:
            return 0
        return 1 if item.path.name in OWN_FOUNDATION else 3 if item.path.name == SOAK else 2
    first_e2e = next((i for i, item in enumerate(items) if rank(item)), len(items))
    items[first_e2e:] = sorted(items[first_e2e:], key=rank)
    soak_background.state["wanted"] = any(rank(i) == 3 for i in items)


@pytest.fixture(scope="session")
def soak_out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("soak")


@pytest.fixture(scope="session", autouse=True)
def _soak_stopped():
    """A soak still running when the session ends (interrupted) is stopped and torn down."""
    yield
    if soak_background.state.get("proc"):
        soak_background.stop(soak_background.state["proc"])


@pytest.fixture(scope="session", autouse=True)
def images_built() -> None:
    """Wait for the image build `make test` runs beside the unit and integration tests
    (it holds this lock); a failed build is redone, and its error shown, by the first
    foundation's `up`."""
    lock = render.STATE_ROOT / "images.lock"
    if lock.exists():
        with open(lock) as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def cfg() -> config.FoundationConfig:
    return config.load(CONFIG)


@pytest.fixture(scope="session")
def foundation(cfg, soak_out):
    Foundation(cfg).down()  # leftovers of an interrupted run
    try:
        up = cflab("up", "--wait", "240")
        sys.stdout.write(up.stdout)
        if soak_background.state.get("wanted") and not soak_background.skipped():
            soak_background.start_once(soak_out)
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
