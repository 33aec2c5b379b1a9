"""Who may call the Cloud Controller: UAA bearer tokens checked as cloud_controller_ng does.

A request without a token gets 401 CF-NotAuthenticated; a token that is malformed,
tampered with, expired, signed by another UAA, or not meant for the Cloud Controller
(no `cloud_controller` audience, a refresh token) gets 401 CF-InvalidAuthToken; a
valid token without the scope for the verb gets 403 CF-NotAuthorized. Only `GET /`,
`/v2/info` and `/v3` answer without a token, as on a real CC (clients discover UAA
there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import load_pem_x509_certificate

from foundry.cloud_controller.errors import CCError
from foundry.uaa.jwt import TokenError, unverified_header, verify

PUBLIC = frozenset({"/", "/v2/info", "/v3"})
READ_SCOPES = frozenset({"cloud_controller.read", "cloud_controller.admin",
                         "cloud_controller.admin_read_only", "cloud_controller.global_auditor"})
WRITE_SCOPES = frozenset({"cloud_controller.write", "cloud_controller.admin"})
READ_METHODS = frozenset({"GET", "HEAD"})
NETWORK_SCOPES = frozenset({"network.admin", "network.write"})


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """UAA's verification key: a PEM public key or a certificate holding it."""
    if b"CERTIFICATE" in pem:
        key = load_pem_x509_certificate(pem).public_key()
    else:
        key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("UAA's verification key must be RSA")
    return key


@dataclass(frozen=True)
class Caller:
    user_name: str
    user_id: str
    client_id: str
    scopes: frozenset[str]


class Authenticator:
    def __init__(self, keys: dict[str, rsa.RSAPublicKey],
                 clock: Callable[[], float] = time.time) -> None:
        self.keys, self.clock = keys, clock

    def _claims(self, token: str) -> dict[str, Any]:
        keys = self.keys
        if len(keys) == 1:  # one UAA key: accept it whatever kid the token names
            kid = str(unverified_header(token).get("kid", ""))
            keys = {kid: next(iter(keys.values()))}
        return verify(token, keys, self.clock())

    def caller(self, method: str, path: str, authorization: str | None) -> Caller | None:
        """The verified caller, None for a public path; raises CCError otherwise."""
        if path.rstrip("/") in PUBLIC or path == "/":
            return None
        if not authorization:
            raise CCError("NotAuthenticated")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CCError("InvalidAuthToken")
        try:
            claims = self._claims(token.strip())
        except TokenError:
            raise CCError("InvalidAuthToken") from None
        aud = claims.get("aud", [])
        if isinstance(aud, str):
            aud = [aud]
        if "cloud_controller" not in aud or str(claims.get("jti", "")).endswith("-r"):
            raise CCError("InvalidAuthToken")
        scopes = frozenset(s for s in claims.get("scope", []) if isinstance(s, str))
        if path.startswith("/networking/"):  # the policy server's own scopes
            needed = NETWORK_SCOPES
        else:
            needed = READ_SCOPES if method in READ_METHODS else WRITE_SCOPES
        if not scopes & needed:
            raise CCError("NotAuthorized")
        return Caller(str(claims.get("user_name", "")), str(claims.get("user_id", "")),
                      str(claims.get("client_id", "")), scopes)
