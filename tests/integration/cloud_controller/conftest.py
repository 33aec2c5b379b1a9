import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from cc_harness import Foundation  # noqa: E402


@pytest.fixture
def foundation(tmp_path):
    f = Foundation(tmp_path).start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
def cf(foundation):
    r = foundation.cf("login", "-a", foundation.api, "--ca-cert", str(foundation.tmp / "ca.crt"),
                      "-u", "admin", "-p", "admin")
    assert r.returncode == 0, r.stderr
    return foundation.cf
