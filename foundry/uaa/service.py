"""UAA's endpoints as plain request → response logic, no sockets.

Shapes follow cloudfoundry/uaa: `/oauth/token` answers `{access_token, token_type:
"bearer", refresh_token, expires_in, scope, jti}`; errors are `{error,
error_description}` (401 `unauthorized` "Bad credentials" for a wrong password or
client secret, 400 `invalid_request`/`unsupported_grant_type`/`invalid_grant` for a
malformed grant). `GET /oauth/authorize?response_type=code&client_id=ssh-proxy`
with a user's bearer token answers 302 with a one-time code, which is what
`cf ssh-code` prints and Diego's ssh-proxy redeems.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

from foundry.uaa.config import Client, UAAConfig, User
from foundry.uaa.jwt import SigningKey, TokenError, verify

ZONE = "uaa"
ORIGIN = "uaa"
CODE_LENGTH = 10  # UAA's RandomValueStringGenerator default for authorization codes


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    @classmethod
    def from_target(cls, method: str, target: str, headers: dict[str, str] | None = None,
                    body: bytes = b"") -> Request:
        path, _, qs = target.partition("?")
        return cls(method.upper(), unquote(path), parse_qs(qs, keep_blank_values=True),
                   {k.lower(): v for k, v in (headers or {}).items()}, body)

    def params(self) -> dict[str, str]:
        """Query and form parameters (the form wins), last value of each."""
        out = {k: v[-1] for k, v in self.query.items() if v}
        ctype = self.headers.get("content-type", "")
        if self.body and ctype.split(";")[0].strip() in ("application/x-www-form-urlencoded", ""):
            try:
                form = parse_qs(self.body.decode(), keep_blank_values=True)
            except UnicodeDecodeError:
                form = {}
            out.update({k: v[-1] for k, v in form.items() if v})
        return out


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description
        self.headers = headers or {}

    def response(self) -> Response:
        return Response(self.status, {"error": self.error, "error_description": self.description},
                        self.headers)


def bad_credentials() -> OAuthError:
    return OAuthError(401, "unauthorized", "Bad credentials",
                      {"WWW-Authenticate": 'Basic realm="UAA/client", error="unauthorized", '
                                           'error_description="Bad credentials"'})


def user_id(user: User) -> str:
    """A stable guid per user name, so tokens stay valid across restarts."""
    return user.user_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"uaa:user:{user.username}"))


def audience(scopes: list[str], client_id: str) -> list[str]:
    """UAA's `aud`: the client and the resource prefix of every scope (`cloud_controller`)."""
    out = [client_id]
    for s in scopes:
        prefix = s.rpartition(".")[0] if "." in s else s
        if prefix and prefix not in out:
            out.append(prefix)
    return out


@dataclass
class _Code:
    user: User
    client_id: str
    scopes: list[str]
    redirect_uri: str
    expires: float


class UAA:
    def __init__(self, cfg: UAAConfig, key: SigningKey,
                 clock: Callable[[], float] = time.time) -> None:
        self.cfg, self.key, self.clock = cfg, key, clock
        self.users = {u.username: u for u in cfg.users}
        self.codes: dict[str, _Code] = {}
        self.lock = threading.Lock()
        self.routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("POST", "/oauth/token"): self.token,
            ("GET", "/token_keys"): self.token_keys,
            ("GET", "/token_key"): self.token_key,
            ("GET", "/.well-known/openid-configuration"): self.openid_configuration,
            ("GET", "/oauth/token/.well-known/openid-configuration"): self.openid_configuration,
            ("GET", "/userinfo"): self.userinfo,
            ("GET", "/oauth/authorize"): self.authorize,
            ("GET", "/login"): self.login_info,
            ("GET", "/info"): self.login_info,
            ("GET", "/healthz"): lambda r: Response(200, b"ok\n"),
        }

    def handle(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        handler = self.routes.get((req.method, path))
        try:
            if handler is None:
                if any(p == path for _, p in self.routes):
                    raise OAuthError(405, "method_not_allowed",
                                     f"Request method '{req.method}' not supported")
                raise OAuthError(404, "not_found", f"No handler for {path}")
            return handler(req)
        except OAuthError as e:
            return e.response()

    # ---- clients, users, tokens ------------------------------------------------------

    def _client(self, req: Request, params: dict[str, str]) -> Client:
        """The calling client from HTTP Basic (or client_id/client_secret in the form)."""
        auth = req.headers.get("authorization", "")
        if auth[:6].lower() == "basic ":
            try:
                cid, sep, secret = base64.b64decode(auth[6:].strip(), validate=True) \
                    .decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise bad_credentials() from None
            if not sep:
                raise bad_credentials()
        elif "client_id" in params:
            cid, secret = params["client_id"], params.get("client_secret", "")
        else:
            raise OAuthError(401, "unauthorized",
                             "Full authentication is required to access this resource")
        client = self.cfg.clients.get(cid)
        if client is None or not hmac.compare_digest(client.secret.encode(), secret.encode()):
            raise bad_credentials()
        return client

    def _validity(self, client: Client, refresh: bool = False) -> int:
        if refresh:
            return client.refresh_token_validity or self.cfg.refresh_token_validity
        return client.access_token_validity or self.cfg.access_token_validity

    def _scopes(self, granted: tuple[str, ...], requested: str | None) -> list[str]:
        if not requested:
            return list(granted)
        asked = requested.split()
        bad = [s for s in asked if s not in granted]
        if bad:
            raise OAuthError(400, "invalid_scope",
                             f"Invalid scope: {' '.join(bad)}. Did you know that you can get "
                             f"default scopes by simply sending no value?")
        return asked

    def _claims(self, client: Client, grant: str, scopes: list[str], user: User | None,
                now: int, ttl: int, jti: str) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "jti": jti, "sub": user_id(user) if user else client.client_id, "scope": scopes,
            "client_id": client.client_id, "cid": client.client_id, "azp": client.client_id,
            "grant_type": grant}
        if user is not None:
            claims.update(user_id=user_id(user), origin=ORIGIN, user_name=user.username,
                          email=user.email, auth_time=now)
        claims.update(rev_sig=secrets.token_hex(4), iat=now, exp=now + ttl,
                      iss=self.cfg.issuer, zid=ZONE, aud=audience(scopes, client.client_id))
        return claims

    def issue(self, client: Client, grant: str, scopes: list[str],
              user: User | None) -> dict[str, Any]:
        now = int(self.clock())
        ttl = self._validity(client)
        jti = uuid.uuid4().hex
        jku = self.cfg.url.rstrip("/") + "/token_keys"
        access = self.key.sign(self._claims(client, grant, scopes, user, now, ttl, jti), jku)
        out: dict[str, Any] = {"access_token": access, "token_type": "bearer"}
        if user is not None and "refresh_token" in client.authorized_grant_types:
            rclaims = self._claims(client, grant, scopes, user, now,
                                   self._validity(client, refresh=True), jti + "-r")
            out["refresh_token"] = self.key.sign(rclaims, jku)
        if user is not None and "openid" in scopes:
            out["id_token"] = self.key.sign({
                "sub": user_id(user), "user_id": user_id(user), "user_name": user.username,
                "email": user.email, "aud": [client.client_id], "iss": self.cfg.issuer,
                "iat": now, "exp": now + ttl, "azp": client.client_id, "cid": client.client_id,
                "scope": ["openid"], "origin": ORIGIN, "zid": ZONE, "amr": ["pwd"],
                "grant_type": grant, "jti": jti + "-i"}, jku)
        out.update(expires_in=ttl - 1, scope=" ".join(scopes), jti=jti)
        return out

    def bearer_claims(self, req: Request) -> dict[str, Any]:
        auth = req.headers.get("authorization", "")
        if auth[:7].lower() != "bearer ":
            raise OAuthError(401, "unauthorized",
                             "Full authentication is required to access this resource")
        try:
            return verify(auth[7:].strip(), {self.key.kid: self.key.public_key}, self.clock())
        except TokenError as e:
            raise OAuthError(401, "invalid_token", str(e)) from None

    # ---- endpoints -------------------------------------------------------------------

    def token(self, req: Request) -> Response:
        params = req.params()
        grant = params.get("grant_type")
        if not grant:
            raise OAuthError(400, "invalid_request", "Missing grant type")
        client = self._client(req, params)
        if grant not in ("password", "refresh_token", "client_credentials",
                         "authorization_code"):
            raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
        if grant not in client.authorized_grant_types:
            raise OAuthError(401, "invalid_client", f"Unauthorized grant type: {grant}")
        if grant == "client_credentials":
            scopes = self._scopes(client.authorities, params.get("scope"))
            body = self.issue(client, grant, scopes, None)
        elif grant == "password":
            username, password = params.get("username"), params.get("password")
            if not username or password is None:
                raise OAuthError(400, "invalid_request",
                                 "Missing username or password for the password grant")
            user = self.users.get(username)
            if user is None or not hmac.compare_digest(user.password.encode(),
                                                        password.encode()):
                raise OAuthError(401, "unauthorized", "Bad credentials")
            allowed = tuple(s for s in client.scope if s in user.groups)
            body = self.issue(client, grant, self._scopes(allowed, params.get("scope")), user)
        elif grant == "refresh_token":
            body = self._refresh(client, params)
        else:
            body = self._redeem_code(client, params)
        return Response(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _refresh(self, client: Client, params: dict[str, str]) -> dict[str, Any]:
        token = params.get("refresh_token")
        if not token:
            raise OAuthError(400, "invalid_request", "Missing refresh_token")
        try:
            claims = verify(token, {self.key.kid: self.key.public_key}, self.clock())
        except TokenError as e:
            raise OAuthError(401, "invalid_token", f"Invalid refresh token: {e}") from None
        if not str(claims.get("jti", "")).endswith("-r"):
            raise OAuthError(401, "invalid_token", "Invalid refresh token: not a refresh token")
        if claims.get("cid") != client.client_id:
            raise OAuthError(401, "invalid_token", "Invalid refresh token: issued to another "
                             "client")
        user = self.users.get(str(claims.get("user_name", "")))
        if user is None or user_id(user) != claims.get("user_id"):
            raise OAuthError(401, "invalid_token", "Invalid refresh token: user not found")
        scopes = [s for s in claims.get("scope", []) if s in user.groups and s in client.scope]
        return self.issue(client, "refresh_token", scopes, user)

    def _redeem_code(self, client: Client, params: dict[str, str]) -> dict[str, Any]:
        code = params.get("code")
        if not code:
            raise OAuthError(400, "invalid_request", "An authorization code must be supplied.")
        with self.lock:
            entry = self.codes.pop(code, None)  # one use only, whatever happens next
        if entry is None or entry.expires <= self.clock():
            raise OAuthError(400, "invalid_grant", f"Invalid authorization code: {code}")
        if entry.client_id != client.client_id:
            raise OAuthError(400, "invalid_grant", f"Invalid authorization code: {code}")
        if entry.redirect_uri and params.get("redirect_uri", entry.redirect_uri) \
                != entry.redirect_uri:
            raise OAuthError(400, "invalid_grant", "Redirect URI mismatch.")
        return self.issue(client, "authorization_code", entry.scopes, entry.user)

    def authorize(self, req: Request) -> Response:
        params = req.params()
        claims = self.bearer_claims(req)
        if params.get("response_type") != "code":
            raise OAuthError(400, "unsupported_response_type",
                             "Unsupported response types: " + params.get("response_type", ""))
        client = self.cfg.clients.get(params.get("client_id", ""))
        if client is None or "authorization_code" not in client.authorized_grant_types:
            raise OAuthError(400, "invalid_client", "No client with requested id: "
                             + params.get("client_id", ""))
        user = self.users.get(str(claims.get("user_name", "")))
        if user is None:
            raise OAuthError(403, "access_denied", "A user token is required")
        redirect = params.get("redirect_uri") or (client.redirect_uri[0]
                                                  if client.redirect_uri else "")
        if client.redirect_uri and redirect not in client.redirect_uri:
            raise OAuthError(400, "invalid_request", "Invalid redirect " + redirect)
        scopes = [s for s in client.scope if s in user.groups]
        code = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789") for _ in range(CODE_LENGTH))
        now = self.clock()
        with self.lock:
            self.codes = {c: e for c, e in self.codes.items() if e.expires > now}
            self.codes[code] = _Code(user, client.client_id, scopes, redirect,
                                     now + self.cfg.code_validity)
        sep = "&" if "?" in redirect else "?"
        query = {"code": code, **({"state": params["state"]} if "state" in params else {})}
        return Response(302, None, {"Location": f"{redirect}{sep}{urlencode(query)}"})

    def token_keys(self, req: Request) -> Response:
        return Response(200, {"keys": [self.key.jwk()]})

    def token_key(self, req: Request) -> Response:
        return Response(200, self.key.jwk())

    def userinfo(self, req: Request) -> Response:
        claims = self.bearer_claims(req)
        if "openid" not in claims.get("scope", []):
            raise OAuthError(403, "insufficient_scope", "Insufficient scope for this resource")
        user = self.users.get(str(claims.get("user_name", "")))
        if user is None:
            raise OAuthError(401, "invalid_token", "The token does not belong to a user")
        uid = user_id(user)
        return Response(200, {"user_id": uid, "sub": uid, "user_name": user.username,
                              "given_name": user.username, "family_name": user.username,
                              "email": user.email, "phone_number": None,
                              "previous_logon_time": None, "name": user.username,
                              "email_verified": True})

    def openid_configuration(self, req: Request) -> Response:
        base = self.cfg.url.rstrip("/")
        return Response(200, {
            "issuer": self.cfg.issuer, "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                      "client_secret_post"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "userinfo_endpoint": f"{base}/userinfo", "jwks_uri": f"{base}/token_keys",
            "scopes_supported": ["openid", "profile", "email", "phone", "roles",
                                 "user_attributes"],
            "response_types_supported": ["code", "code id_token", "id_token",
                                         "token id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "id_token_encryption_alg_values_supported": ["none"],
            "claim_types_supported": ["normal"],
            "claims_supported": ["sub", "user_name", "origin", "iss", "auth_time", "amr",
                                 "acr", "client_id", "aud", "zid", "grant_type", "user_id",
                                 "azp", "scope", "exp", "iat", "jti", "rev_sig", "cid",
                                 "given_name", "family_name", "phone_number", "email"],
            "claims_parameter_supported": False,
            "service_documentation": "http://docs.cloudfoundry.org/api/uaa/",
            "ui_locales_supported": ["en-US"]})

    def login_info(self, req: Request) -> Response:
        """`/login` with Accept JSON: what the cf CLI's login prompts come from."""
        return Response(200, {"app": {"version": "cflab"}, "showLoginLinks": False,
                              "links": {"uaa": self.cfg.url, "login": self.cfg.url},
                              "zone_name": ZONE, "entityID": "cflab",
                              "commit_id": "cflab", "idpDefinitions": {},
                              "prompts": {"username": ["text", "Email"],
                                          "password": ["password", "Password"]},
                              "timestamp": ""})
