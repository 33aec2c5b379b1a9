"""The `cf` CLI's config file and its HTTPS client for the Cloud Controller."""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ORG = "cflab-org"
DEFAULT_SPACE = "dev"


class CFError(Exception):
    """A failure the CLI reports as ``FAILED`` plus this message, exit 1."""


def config_path() -> Path:
    home = os.environ.get("CF_HOME")
    base = Path(home) if home else REPO_ROOT / ".cflab" / "cflab" / "cf"
    return base / "config.json"


@dataclass
class CFConfig:
    api: str = ""
    ca_cert: str = ""
    org: str = DEFAULT_ORG
    space: str = DEFAULT_SPACE

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
        return cls(**{k: str(v) for k, v in raw.items() if k in cls.__dataclass_fields__
                      and v is not None})

    def save(self) -> None:
        path = config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)


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
    def __init__(self, api: str, ca_cert: str = "", timeout: float = 60.0) -> None:
        if not api:
            raise CFError("No API endpoint set. Use 'cf api' to set an endpoint")
        self.api = api.rstrip("/")
        self.timeout = timeout
        self.ctx = ssl.create_default_context()
        if ca_cert:
            try:
                self.ctx = ssl.create_default_context(cadata=ca_cert)
            except ssl.SSLError as e:
                raise CFError(f"Invalid CA certificate in the cf config: {e}") from e

    def raw(self, method: str, path: str, body: bytes | None = None,
            content_type: str = "application/json") -> HTTPResult:
        req = urllib.request.Request(self.api + path, data=body, method=method,
                                     headers={"Content-Type": content_type,
                                              "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.ctx) as resp:
                return HTTPResult(resp.status, resp.read())
        except urllib.error.HTTPError as e:
            return HTTPResult(e.code, e.read())
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise CFError(f"Request error: {method} {self.api}{path}: {reason}\n"
                          f"TIP: Is the API endpoint {self.api} up and reachable? "
                          "Check it with 'cflab status'.") from e

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        result = self.raw(method, path, data)
        if result.status >= 400:
            raise CFError(error_message(result))
        return result.json()

    def get(self, path: str, **query: str) -> Any:
        if query:
            path += "?" + urllib.parse.urlencode(query)
        return self.call("GET", path)

    def resources(self, path: str, *q: str) -> list[dict[str, Any]]:
        """A v2 list filtered by ``q=key:value`` terms."""
        if q:
            path += "?" + urllib.parse.urlencode([("q", term) for term in q])
        return (self.call("GET", path) or {}).get("resources", [])
