"""Sticky sessions (gorouter `handlers/helpers.go`, `proxy_round_tripper.setupStickySession`).

`__VCAP_ID__` is honoured only when the request also carries a sticky cookie
(JSESSIONID by default), and set on the response when the backend set a sticky
cookie, or when the request asked for an instance but was served by another.
"""

from __future__ import annotations

from dataclasses import dataclass

VCAP_COOKIE = "__VCAP_ID__"
DEFAULT_STICKY_COOKIES = frozenset({"JSESSIONID"})


def parse_cookie_header(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.split(";"):
        name, sep, val = part.strip().partition("=")
        if sep and name and name not in out:
            out[name] = val.strip().strip('"')
    return out


def requested_instance(cookie_headers: list[str],
                       sticky_names: frozenset[str] = DEFAULT_STICKY_COOKIES) -> str:
    """The instance id asked for by `__VCAP_ID__`, or "" when it must be ignored."""
    if not cookie_headers:
        return ""
    cookies: dict[str, str] = {}
    for h in cookie_headers:
        for k, v in parse_cookie_header(h).items():
            cookies.setdefault(k, v)
    if not any(name in cookies for name in sticky_names):
        return ""
    return cookies.get(VCAP_COOKIE, "")


@dataclass(slots=True)
class SetCookie:
    name: str
    value: str
    attrs: dict[str, str]  # lower-cased attribute name → value ("" for flags)


def parse_set_cookie(value: str) -> SetCookie | None:
    parts = value.split(";")
    name, sep, val = parts[0].strip().partition("=")
    if not sep or not name:
        return None
    attrs: dict[str, str] = {}
    for p in parts[1:]:
        k, _, v = p.strip().partition("=")
        if k:
            attrs[k.lower()] = v.strip()
    return SetCookie(name, val.strip(), attrs)


def vcap_id_cookie(response_set_cookies: list[str], instance_id: str, requested_id: str,
                   context_path: str = "/", secure_cookies: bool = False,
                   sticky_names: frozenset[str] = DEFAULT_STICKY_COOKIES) -> str | None:
    """The `Set-Cookie` value to add for `__VCAP_ID__`, or None (Go `http.Cookie.String` order)."""
    sticky: SetCookie | None = None
    for raw in response_set_cookies:
        c = parse_set_cookie(raw)
        if c is None:
            continue
        if c.name == VCAP_COOKIE:
            return None  # the app manages it itself
        if sticky is None and c.name in sticky_names:
            sticky = c
    served_elsewhere = bool(requested_id) and requested_id != instance_id
    if sticky is None and not served_elsewhere:
        return None
    parts = [f"{VCAP_COOKIE}={instance_id}", f"Path={context_path or '/'}"]
    secure = secure_cookies
    same_site = partitioned = ""
    if sticky is not None:
        a = sticky.attrs
        if "expires" in a:
            parts.append(f"Expires={a['expires']}")
        max_age = a.get("max-age", "")
        if max_age.lstrip("-").isdigit() and int(max_age) < 0:
            parts.append("Max-Age=0")  # Go prints a negative MaxAge as Max-Age=0
        secure = secure or "secure" in a
        same_site = a.get("samesite", "")
        partitioned = "partitioned" in a and "Partitioned" or ""
    parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    if same_site:
        parts.append(f"SameSite={same_site.capitalize()}")
    if partitioned:
        parts.append(partitioned)
    return "; ".join(parts)
