"""JSON Web Tokens signed RS256, as UAA issues them and the Cloud Controller checks them.

Hand-rolled on `cryptography` (already in every image) instead of a JWT library: UAA's
tokens use one algorithm, and checking `alg` ourselves rules out the `none`/HS256
key-confusion tricks a general decoder has to be configured against.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class TokenError(Exception):
    """The token is not one this foundation's UAA signed, or no longer valid."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as e:
        raise TokenError("malformed token") from e


def _int_b64(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """UAA's `jwt.token.signing-key` with its key id (the `kid` header)."""

    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def from_pem(cls, kid: str, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the JWT signing key must be RSA")
        return cls(kid, key)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, Any]:
        """This key as `/token_keys` lists it (UAA adds the PEM as `value`)."""
        return public_jwk(self.kid, self.public_key)

    def sign(self, claims: dict[str, Any], jku: str = "") -> str:
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        if jku:
            header = {"alg": "RS256", "jku": jku, "kid": self.kid, "typ": "JWT"}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                         + b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = self.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig)


def public_jwk(kid: str, key: rsa.RSAPublicKey) -> dict[str, Any]:
    nums = key.public_numbers()
    pem = key.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return {"kty": "RSA", "e": _int_b64(nums.e), "use": "sig", "kid": kid, "alg": "RS256",
            "value": pem.strip(), "n": _int_b64(nums.n)}


def unverified_header(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed token")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except ValueError as e:
        raise TokenError("malformed token header") from e
    if not isinstance(header, dict):
        raise TokenError("malformed token header")
    return header


def verify(token: str, keys: dict[str, rsa.RSAPublicKey], now: float) -> dict[str, Any]:
    """The claims of a token signed RS256 by one of ``keys`` (by kid) and not expired."""
    header = unverified_header(token)
    if header.get("alg") != "RS256":
        raise TokenError(f"unsupported token algorithm {header.get('alg')!r}")
    key = keys.get(str(header.get("kid", ""))) if header.get("kid") else None
    if key is None and len(keys) == 1 and "kid" not in header:
        key = next(iter(keys.values()))
    if key is None:
        raise TokenError("token signed with an unknown key")
    head, body, sig = token.split(".")
    try:
        key.verify(b64url_decode(sig), f"{head}.{body}".encode(), padding.PKCS1v15(),
                   hashes.SHA256())
    except InvalidSignature as e:
        raise TokenError("token signature does not match") from e
    try:
        claims = json.loads(b64url_decode(body))
    except ValueError as e:
        raise TokenError("malformed token claims") from e
    if not isinstance(claims, dict):
        raise TokenError("malformed token claims")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise TokenError("token has no expiry")
    if now >= exp:
        raise TokenError("token expired")
    return claims
