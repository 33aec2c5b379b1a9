import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from ch_harness import Stack  # noqa: E402


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path).start()
    try:
        yield s
    finally:
        s.stop()
