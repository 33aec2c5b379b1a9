"""CredHub interpolation of VCAP_SERVICES, as buildpackapplifecycle's launcher does it.

Pure logic (no sockets): decide whether interpolation is needed, build the request,
apply the answer. ``__main__`` does the one HTTPS call with retries.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_SYSTEM_CERT_PATH = "/etc/cf-system-certificates"
ATTEMPTS = 3
RETRY_DELAY = 1.0


class InterpolationError(Exception):
    """Interpolation is needed but cannot be done; the launcher exits non-zero."""


@dataclass(frozen=True)
class InterpolateRequest:
    host: str
    port: int
    path: str
    body: bytes
    cert_file: str
    key_file: str
    ca_files: tuple[str, ...]


def needs_interpolation(env: Mapping[str, str]) -> bool:
    if "CREDHUB_SKIP_INTERPOLATION" in env:
        return False
    return '"credhub-ref"' in env.get("VCAP_SERVICES", "")


def credhub_uri(env: Mapping[str, str]) -> str:
    raw = env.get("VCAP_PLATFORM_OPTIONS", "")
    if not raw:
        raise InterpolationError("VCAP_SERVICES has credhub-ref entries but "
                                 "VCAP_PLATFORM_OPTIONS is not set")
    try:
        opts = json.loads(raw)
    except ValueError as e:
        raise InterpolationError(f"VCAP_PLATFORM_OPTIONS is not valid JSON: {e}") from e
    uri = opts.get("credhub-uri") if isinstance(opts, dict) else None
    if not isinstance(uri, str) or not uri:
        raise InterpolationError("VCAP_PLATFORM_OPTIONS has no credhub-uri")
    return uri


def system_ca_files(cert_path: str, names: list[str]) -> tuple[str, ...]:
    return tuple(os.path.join(cert_path, n) for n in sorted(names) if n.endswith(".crt"))


def build_request(env: Mapping[str, str], ca_names: list[str]) -> InterpolateRequest:
    """``ca_names``: the directory listing of CF_SYSTEM_CERT_PATH (the caller reads it)."""
    uri = urlsplit(credhub_uri(env))
    if uri.scheme != "https" or not uri.hostname:
        raise InterpolationError(f"credhub-uri {uri.geturl()!r} must be an https URL")
    cert, key = env.get("CF_INSTANCE_CERT", ""), env.get("CF_INSTANCE_KEY", "")
    if not cert or not key:
        raise InterpolationError("CF_INSTANCE_CERT and CF_INSTANCE_KEY must be set to "
                                 "authenticate to CredHub")
    services = env.get("VCAP_SERVICES", "")
    try:
        parsed = json.loads(services)
    except ValueError as e:
        raise InterpolationError(f"VCAP_SERVICES is not valid JSON: {e}") from e
    if not isinstance(parsed, dict):
        raise InterpolationError("VCAP_SERVICES must be a JSON object")
    cert_path = env.get("CF_SYSTEM_CERT_PATH") or DEFAULT_SYSTEM_CERT_PATH
    cas = system_ca_files(cert_path, ca_names)
    if not cas:
        raise InterpolationError(f"no *.crt in CF_SYSTEM_CERT_PATH {cert_path} to trust "
                                 "CredHub with")
    return InterpolateRequest(uri.hostname, uri.port or 443,
                              uri.path.rstrip("/") + "/api/v1/interpolate",
                              services.encode(), cert, key, cas)


def response_error(status: int, body: bytes) -> str:
    try:
        msg = json.loads(body).get("error")
    except (ValueError, AttributeError):
        msg = None
    return f"CredHub answered {status}" + (f": {msg}" if msg else "")


def apply_answer(env: dict[str, str], body: bytes) -> dict[str, str]:
    """The environment to exec with: interpolated VCAP_SERVICES, no VCAP_PLATFORM_OPTIONS."""
    try:
        parsed = json.loads(body)
    except ValueError as e:
        raise InterpolationError(f"CredHub's answer is not JSON: {e}") from e
    if not isinstance(parsed, dict):
        raise InterpolationError("CredHub's answer is not a JSON object")
    out = dict(env)
    out["VCAP_SERVICES"] = json.dumps(parsed)
    out.pop("VCAP_PLATFORM_OPTIONS", None)
    return out

