"""What the `cf` CLI asks of UAA: token grants and the one-time ssh code.

A token is opaque to the CLI except for its `exp`, read (not verified) so an expiring
access token is refreshed before a request rather than after a 401.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.parse
from typing import Any

import requests

from foundry import httpclient
from foundry.cli.cf_client import CFError

REFRESH_MARGIN = 60.0  # refresh this many seconds before the access token expires


def _request(url: str, ctx: ssl.SSLContext, method: str, path: str, headers: dict[str, str],
             body: bytes | None = None, timeout: float = 30.0) -> requests.Response:
    """One request to UAA; redirects are answers here (the ssh code is in a 302)."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise CFError(f"Invalid UAA endpoint {url!r}")
    try:
        with httpclient.session(ctx) as http:
            return http.request(method, url.rstrip("/") + path, data=body, headers=headers,
                                timeout=timeout, allow_redirects=False)
    except requests.RequestException as e:
        raise CFError(f"Request error: {method} {url}{path}: {httpclient.reason(e)}\n"
                      f"TIP: Is UAA at {url} up and reachable? Check it with 'cflab status'."
                      ) from e


def token_grant(uaa: str, ctx: ssl.SSLContext, client_id: str, secret: str,
                form: dict[str, str]) -> dict[str, Any]:
    """POST /oauth/token with the client's HTTP Basic credentials (`cf:` for the CLI)."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    resp = _request(uaa, ctx, "POST", "/oauth/token", {
        "Authorization": f"Basic {basic}", "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded"},
        urllib.parse.urlencode(form).encode())
    status = resp.status_code
    try:
        data = json.loads(resp.content) if resp.content else {}
    except ValueError:
        data = {}
    if status == 200 and isinstance(data, dict) and data.get("access_token"):
        return data
    if status == 401 and form.get("grant_type") in ("password", "client_credentials"):
        raise CFError("Credentials were rejected, please try again.")
    desc = data.get("error_description") if isinstance(data, dict) else None
    raise CFError(f"Authentication failed ({status}): {desc or 'no token in the answer'}")


def authorization_code(uaa: str, ctx: ssl.SSLContext, bearer: str, client_id: str) -> str:
    """`cf ssh-code`: GET /oauth/authorize as the user; the code is in the 302's Location."""
    query = urllib.parse.urlencode({"response_type": "code", "client_id": client_id})
    resp = _request(uaa, ctx, "GET", f"/oauth/authorize?{query}",
                    {"Authorization": bearer, "Accept": "application/json"})
    location = resp.headers.get("location")
    if resp.status_code != 302 or location is None:
        try:
            desc = json.loads(resp.content).get("error_description", "")
        except (ValueError, AttributeError):
            desc = ""
        raise CFError(f"Error getting SSH code: {resp.status_code} {desc}".rstrip())
    codes = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).get("code")
    if not codes:
        raise CFError("Error getting SSH code: no code in UAA's redirect")
    return codes[0]


def claims(token: str) -> dict[str, Any]:
    """The token's claims, unverified (the CLI only reads `exp` and `user_name`)."""
    parts = token.split()[-1].split(".") if token else []
    if len(parts) != 3:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def expiring(token: str, now: float | None = None) -> bool:
    exp = claims(token).get("exp")
    if not isinstance(exp, (int, float)):
        return False
    return (time.time() if now is None else now) >= exp - REFRESH_MARGIN
