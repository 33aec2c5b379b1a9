"""A real browser for the page tests: Debian's chromium-headless-shell driven by
Playwright (`executable_path`; Playwright's own browser download cannot work here).

A test module calls `sync_api()` at import (it skips the module when Playwright
or the browser is missing) and imports the `browser` fixture.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

BROWSER = shutil.which("chromium-headless-shell") or "/usr/lib/chromium/headless_shell"


def sync_api() -> Any:
    """playwright.sync_api, or the calling module skipped saying what is missing."""
    api = pytest.importorskip("playwright.sync_api",
                              reason="Playwright (the [dev] extra) is not installed")
    if not shutil.which(BROWSER):
        pytest.skip("Debian's chromium-headless-shell is not installed (`make test` installs"
                    " it as root: apt-get install chromium-headless-shell)",
                    allow_module_level=True)
    return api


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api().sync_playwright() as p:
        b = p.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()
