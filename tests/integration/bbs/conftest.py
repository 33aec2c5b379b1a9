import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from bbs_harness import BBSProcess  # noqa: E402


@pytest.fixture
def bbs(tmp_path):
    proc = BBSProcess(tmp_path).start()
    yield proc
    proc.stop()
