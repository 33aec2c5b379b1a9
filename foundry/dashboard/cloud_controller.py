"""The Cloud Controller as the dashboard reads it: app names (and how many apps) from
`GET /v3/apps`, with a UAA client_credentials token (client `cflab-dashboard`, read-only
authorities), fetched again before it expires. The BBS's desired LRPs name an app as it
was when its LRP was desired; the CC says what the app is called now.

Async on the dashboard's own one-shot HTTP (no urllib, no threads: the job idles at
≤ 40 MB RSS)."""

from __future__ import annotations

import json
import ssl
import time
from base64 import b64encode
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

REFRESH_BEFORE_S = 60.0
MAX_PAGES = 50
Request = Callable[..., Awaitable[tuple[int, bytes]]]


def app_names(page: Any) -> dict[str, str]:
    """app guid → name from one `/v3/apps` page; anything malformed is skipped."""
    out: dict[str, str] = {}
    resources = page.get("resources") if isinstance(page, dict) else None
    for r in resources if isinstance(resources, list) else []:
        if isinstance(r, dict) and isinstance(r.get("guid"), str) and isinstance(
                r.get("name"), str):
            out[r["guid"]] = r["name"]
    return out


def next_page(page: Any) -> str | None:
    """The path of the next page (the CC gives an absolute URL), or None."""
    nxt = ((page.get("pagination") or {}).get("next") or {}) if isinstance(page, dict) else {}
    href = nxt.get("href") if isinstance(nxt, dict) else None
    if not isinstance(href, str) or not href:
        return None
    u = urlsplit(href)
    return u.path + (f"?{u.query}" if u.query else "")


def _json(status: int, body: bytes, what: str) -> Any:
    if status != 200:
        raise OSError(f"{what}: HTTP {status}")
    try:
        return json.loads(body)
    except ValueError:
        raise ValueError(f"{what}: not JSON") from None


@dataclass
class CCReader:
    cc_url: str
    uaa_url: str
    client: str
    secret: str
    ctx: ssl.SSLContext
    request: Request
    timeout: float = 5.0
    clock: Any = field(default=time.monotonic)
    _token: str = ""
    _expires: float = 0.0

    async def _call(self, base: str, method: str, path: str, headers: dict[str, str],
                    body: bytes = b"") -> tuple[int, bytes]:
        u = urlsplit(base)
        return await self.request(u.hostname or "", u.port or 443, method, path,
                                  {"Accept": "application/json", **headers}, body,
                                  timeout=self.timeout, tls=self.ctx)

    async def token(self) -> str:
        if not self._token or self.clock() > self._expires - REFRESH_BEFORE_S:
            basic = b64encode(f"{self.client}:{self.secret}".encode()).decode()
            status, body = await self._call(
                self.uaa_url, "POST", "/oauth/token",
                {"Authorization": f"Basic {basic}",
                 "Content-Type": "application/x-www-form-urlencoded"},
                urlencode({"grant_type": "client_credentials"}).encode())
            got = _json(status, body, "UAA token")
            if not isinstance(got, dict) or not isinstance(got.get("access_token"), str):
                raise ValueError("UAA token: no access_token in the answer")
            self._token = got["access_token"]
            self._expires = self.clock() + float(got.get("expires_in") or 600)
        return self._token

    async def apps(self) -> dict[str, str]:
        """Every app the CC knows."""
        names: dict[str, str] = {}
        path: str | None = "/v3/apps?per_page=5000"
        for _ in range(MAX_PAGES):
            if path is None:
                break
            status, body = await self._call(self.cc_url, "GET", path,
                                            {"Authorization": f"bearer {await self.token()}"})
            if status == 401:
                self._token = ""  # expired or revoked: the next read logs in again
            page = _json(status, body, f"Cloud Controller {path}")
            names.update(app_names(page))
            path = next_page(page)
        return names
