"""The dashboard's Cloud Controller reader against the real CC and UAA on loopback:
its read-only client gets a token and names every app; a wrong secret is an error the
dashboard shows, not a crash."""

from __future__ import annotations

import asyncio

import pytest

from foundry.dashboard.cloud_controller import CCReader, app_names, next_page
from foundry.dashboard.collectors import http_request


def test_it_names_the_apps_the_cc_has(foundation, cf, tmp_path):
    for name in ("web", "api"):
        d = tmp_path / name
        d.mkdir()
        (d / "app.py").write_text("print('hi')\n")
        assert cf("push", name, "-p", str(d), "--no-start").returncode == 0
    reader = CCReader(foundation.api, foundation.uaa_url, "cflab-dashboard", "dashboard-secret",
                      foundation.ssl, http_request)
    names = asyncio.run(reader.apps())
    assert sorted(names.values()) == ["api", "web"]
    guid = foundation.cc_get("/v2/apps?q=name:web")[1]["resources"][0]["metadata"]["guid"]
    assert names[guid] == "web"
    token = reader._token  # noqa: SLF001
    asyncio.run(reader.apps())
    assert reader._token == token  # reused until it is about to expire  # noqa: SLF001


def test_a_wrong_secret_is_an_error_the_page_can_show(foundation):
    reader = CCReader(foundation.api, foundation.uaa_url, "cflab-dashboard", "nope",
                      foundation.ssl, http_request)
    with pytest.raises(OSError, match="UAA token: HTTP 401"):
        asyncio.run(reader.apps())


def test_malformed_pages_are_skipped():
    assert app_names({"resources": [{"guid": "g", "name": "a"}, {"guid": 1}, "x"]}) == {"g": "a"}
    assert app_names([]) == {} and app_names({"resources": None}) == {}
    assert next_page({"pagination": {"next": {"href": "https://api.x:9022/v3/apps?page=2"}}}) \
        == "/v3/apps?page=2"
    assert next_page({"pagination": {"next": None}}) is None and next_page("x") is None
