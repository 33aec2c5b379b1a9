"""The 3-minute soak of `make test`, run as its own process beside the session foundation's
tests (tests/e2e/conftest.py starts it once that foundation is up; test_soak.py, the last
e2e test, waits for it and judges it).

Why beside, not after: the soak is timer-bound (5 requests a second, faults at fixed
times) and the session foundation's tests mostly wait on rotations and timeouts; the two
kept this machine's 2 cores about half busy each. Run one after the other they did not
fit CI's 30 minutes reliably (CI on 25a9d3d timed out with the soak in series).

`python -m tests.e2e.soak_background OUT`: writes OUT/soak.{json,md,png} and OUT/soak.log;
its exit code is the soak's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

PROJECT = "cflab-soak-e2e"
MINUTES = 3
PLACEMENT = (15000, 232)  # ports +15000, subnets 10.232/10.231: clear of every other run
# The session's soak: "wanted" (its test was collected), "proc" (started).
state: dict = {}


def skipped() -> bool:
    """CFLAB_SOAK_TEST=0: no soak (a quicker local e2e run)."""
    return os.environ.get("CFLAB_SOAK_TEST") == "0"


def start_once(out: Path) -> subprocess.Popen:
    """The session's soak process, started once: by the session foundation once it is up,
    or by the soak's own test when no other e2e test ran."""
    if "proc" not in state:
        state["proc"] = start(out)
    return state["proc"]


def start(out: Path) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SOAK_REUSE_IMAGES": "1"}  # the images make test just built
    with open(out / "soak.log", "wb") as log:  # the child keeps its own copy of the fd
        return subprocess.Popen([sys.executable, "-m", "tests.e2e.soak_background", str(out)],
                                stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=Path(__file__).resolve().parents[2])


def stop(proc: subprocess.Popen, grace: float = 90.0) -> None:
    """Interrupt a soak still running (its foundation is torn down in its finally)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait(proc: subprocess.Popen, timeout: float) -> int | None:
    """The soak's exit code, or None if it still runs after `timeout` seconds."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def main(out: Path) -> int:
    from orchestrator import soak

    return soak.run(MINUTES, out, project=PROJECT, placement_=soak.placement(*PLACEMENT))


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
