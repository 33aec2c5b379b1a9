"""The `cf` CLI's config file and its HTTPS client for the Cloud Controller (`requests`,
over the TLS context the config describes: `foundry.httpclient`)."""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from foundry import httpclient

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ORG = "cflab-org"
DEFAULT_SPACE = "dev"


class CFError(Exception):
    """A failure the CLI reports as ``FAILED`` plus this message, exit 1."""


def config_path(cf_home: Path | None = None) -> Path:
    """`$CF_HOME/.cf/config.json`, where the Go cf CLI keeps it."""
    home = cf_home or os.environ.get("CF_HOME")
    base = Path(home) if home else REPO_ROOT / ".cflab" / "cflab" / "cf"
    return base / ".cf" / "config.json"


# attribute -> the Go CLI's config key (cf/configuration/coreconfig/config_data.go)
GO_KEYS = {"api": "Target", "api_version": "APIVersion",
           "authorization_endpoint": "AuthorizationEndpoint", "uaa_endpoint": "UaaEndpoint",
           "access_token": "AccessToken", "refresh_token": "RefreshToken",
           "ssh_oauth_client": "SSHOAuthClient", "uaa_client": "UAAOAuthClient",
           "uaa_client_secret": "UAAOAuthClientSecret", "uaa_grant_type": "UAAGrantType",
           "skip_ssl_validation": "SSLDisableHostnameValidation",
           "ca_cert": "CFLabCACert"}  # ours: the PEM the API and UAA certificates chain to


@dataclass
class CFConfig:
    api: str = ""
    ca_cert: str = ""
    org: str = DEFAULT_ORG
    space: str = DEFAULT_SPACE
    api_version: str = ""
    authorization_endpoint: str = ""
    uaa_endpoint: str = ""
    access_token: str = ""   # "bearer <jwt>", as the Go CLI stores it
    refresh_token: str = ""
    ssh_oauth_client: str = "ssh-proxy"
    uaa_client: str = "cf"
    uaa_client_secret: str = ""
    uaa_grant_type: str = ""
    skip_ssl_validation: bool = False
    org_guid: str = ""
    space_guid: str = ""

    @classmethod
    def load(cls) -> CFConfig:
        path = config_path()
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as e:
            raise CFError(f"Cannot read the cf config {path}: {e}") from e
        if not isinstance(raw, dict):
            raise CFError(f"Cannot read the cf config {path}: not a JSON object")
        cfg = cls()
        for attr, key in GO_KEYS.items():
            value = raw.get(key)
            if value is not None:
                setattr(cfg, attr, bool(value) if attr == "skip_ssl_validation" else str(value))
        org, space = raw.get("OrganizationFields") or {}, raw.get("SpaceFields") or {}
        if isinstance(org, dict) and org.get("Name"):
            cfg.org, cfg.org_guid = str(org["Name"]), str(org.get("GUID", ""))
        if isinstance(space, dict) and space.get("Name"):
            cfg.space, cfg.space_guid = str(space["Name"]), str(space.get("GUID", ""))
        return cfg

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ConfigVersion": 3}
        out.update({key: getattr(self, attr) for attr, key in GO_KEYS.items()})
        out["OrganizationFields"] = {"GUID": self.org_guid, "Name": self.org}
        out["SpaceFields"] = {"GUID": self.space_guid, "Name": self.space, "AllowSSH": True}
        return out

    def save(self, cf_home: Path | None = None) -> Path:
        path = config_path(cf_home)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(self.to_json(), indent=2) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return path

    def ssl_context(self) -> ssl.SSLContext:
        return ssl_context(self.ca_cert, self.skip_ssl_validation)


def ssl_context(ca_cert: str = "", skip_validation: bool = False) -> ssl.SSLContext:
    if skip_validation:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    try:
        return ssl.create_default_context(cadata=ca_cert) if ca_cert \
            else ssl.create_default_context()
    except ssl.SSLError as e:
        raise CFError(f"Invalid CA certificate in the cf config: {e}") from e


@dataclass
class HTTPResult:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


def error_message(result: HTTPResult) -> str:
    """CF's v2 ``description`` or v3 ``detail``, else the status line."""
    data = result.json()
    if isinstance(data, dict):
        if "description" in data:
            return str(data["description"])
        errs = data.get("errors")
        if isinstance(errs, list) and errs and isinstance(errs[0], dict):
            return str(errs[0].get("detail", ""))
    return f"Server error, status code: {result.status}"


class CCClient:
    """The Cloud Controller over HTTPS; ``token`` gives the Authorization header value.

    ``token(True)`` is asked for a fresh one after a 401 (an expired access token),
    and the request is sent once more, as the Go CLI's retrying wrapper does.
    """

    def __init__(self, api: str, ca_cert: str = "", timeout: float = 60.0,
                 token: Callable[[bool], str] | None = None,
                 ctx: ssl.SSLContext | None = None) -> None:
        if not api:
            raise CFError("No API endpoint set. Use 'cf login' or 'cf api' to target an endpoint.")
        self.api = api.rstrip("/")
        self.timeout = timeout
        self.token = token
        self.ctx = ctx or ssl_context(ca_cert)
        self.http = httpclient.session(self.ctx)

    def raw(self, method: str, path: str, body: bytes | None = None,
            content_type: str = "application/json") -> HTTPResult:
        result = self._send(method, path, body, content_type, False)
        if result.status == 401 and self.token is not None:
            result = self._send(method, path, body, content_type, True)
        return result

    def _send(self, method: str, path: str, body: bytes | None, content_type: str,
              refresh: bool) -> HTTPResult:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if self.token is not None:
            headers["Authorization"] = self.token(refresh)
        try:
            resp = self.http.request(method, self.api + path, data=body, headers=headers,
                                     timeout=self.timeout)
        except requests.RequestException as e:
            raise CFError(f"Request error: {method} {self.api}{path}: "
                          f"{httpclient.reason(e)}\n"
                          f"TIP: Is the API endpoint {self.api} up and reachable? "
                          "Check it with 'cflab status'.") from e
        return HTTPResult(resp.status_code, resp.content)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        result = self.raw(method, path, data)
        if result.status >= 400:
            raise CFError(error_message(result))
        return result.json()

    def get(self, path: str, **query: str) -> Any:
        if query:
            path += "?" + urlencode(query)
        return self.call("GET", path)

    def resources(self, path: str, *q: str) -> list[dict[str, Any]]:
        """A v2 list filtered by ``q=key:value`` terms."""
        if q:
            path += "?" + urlencode([("q", term) for term in q])
        return (self.call("GET", path) or {}).get("resources", [])
