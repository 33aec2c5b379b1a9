import pytest

from foundry.bbs.restart import NS, RestartCalculator
from foundry.bbs.state import BBSState


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000 * NS

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * NS)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> BBSState:
    return BBSState(clock, RestartCalculator(), cell_presence_ttl_s=10, crash_reset_timeout_s=300)
