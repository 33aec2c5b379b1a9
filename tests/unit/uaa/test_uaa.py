"""UAA's grants, token shapes and errors, and the CC's token check, without sockets."""

import base64
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from foundry.cloud_controller.auth import Authenticator
from foundry.cloud_controller.errors import CCError
from foundry.uaa import config
from foundry.uaa.jwt import SigningKey, TokenError, b64url, verify
from foundry.uaa.service import UAA, Request

KEY = SigningKey("key-1", rsa.generate_private_key(public_exponent=65537, key_size=2048))
OTHER = SigningKey("key-1", rsa.generate_private_key(public_exponent=65537, key_size=2048))
CFG = config.from_dict({
    "url": "https://127.0.0.1:9024",
    "users": [{"username": "admin", "password": "admin",
               "groups": ["cloud_controller.admin", "cloud_controller.read",
                          "cloud_controller.write", "openid"]},
              {"username": "reader", "password": "pw", "groups": ["cloud_controller.read"]}],
    "clients": {
        "cf": {"secret": "", "authorized-grant-types": ["password", "refresh_token"],
               "scope": ["cloud_controller.admin", "cloud_controller.read",
                         "cloud_controller.write", "openid"], "access-token-validity": 600},
        "ssh-proxy": {"secret": "s3cret", "authorized-grant-types": ["authorization_code"],
                      "scope": ["openid", "cloud_controller.read"], "redirect-uri": ["/login"],
                      "autoapprove": True},
        "dash": {"secret": "d", "authorized-grant-types": ["client_credentials"],
                 "authorities": ["cloud_controller.admin_read_only"]}}})


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def basic(cid: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()


def token(uaa, client=("cf", ""), **form):
    return uaa.handle(Request.from_target("POST", "/oauth/token", {
        "Authorization": basic(*client),
        "Content-Type": "application/x-www-form-urlencoded"}, urlencode(form).encode()))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def uaa(clock):
    return UAA(CFG, KEY, clock)


def claims_of(tok: str) -> dict:
    return verify(tok, {"key-1": KEY.public_key}, Clock.now)


def test_password_grant_shape_and_claims(uaa):
    r = token(uaa, grant_type="password", username="admin", password="admin")
    assert r.status == 200
    assert set(r.body) >= {"access_token", "token_type", "refresh_token", "expires_in", "scope",
                           "jti"}
    assert r.body["token_type"] == "bearer" and r.body["expires_in"] == 599
    c = claims_of(r.body["access_token"])
    assert c["user_name"] == "admin" and c["cid"] == "cf" and c["grant_type"] == "password"
    assert c["iss"] == "https://127.0.0.1:9024/oauth/token" and c["zid"] == "uaa"
    assert "cloud_controller" in c["aud"] and "cloud_controller.write" in c["scope"]
    header = json.loads(base64.urlsafe_b64decode(r.body["access_token"].split(".")[0] + "=="))
    assert header == {"alg": "RS256", "jku": "https://127.0.0.1:9024/token_keys",
                      "kid": "key-1", "typ": "JWT"}


def test_scope_is_user_groups_within_client_scope(uaa):
    r = token(uaa, grant_type="password", username="reader", password="pw")
    assert claims_of(r.body["access_token"])["scope"] == ["cloud_controller.read"]


def test_bad_credentials_and_malformed_grants(uaa):
    r = token(uaa, grant_type="password", username="admin", password="nope")
    assert (r.status, r.body) == (401, {"error": "unauthorized",
                                        "error_description": "Bad credentials"})
    assert token(uaa, client=("cf", "wrong"), grant_type="password", username="admin",
                 password="admin").status == 401
    assert token(uaa, username="admin", password="admin").body["error"] == "invalid_request"
    assert token(uaa, grant_type="password").status == 400
    r = token(uaa, grant_type="implicit")
    assert (r.status, r.body["error"]) == (400, "unsupported_grant_type")
    assert token(uaa, grant_type="client_credentials").body["error"] == "invalid_client"
    r = uaa.handle(Request.from_target("POST", "/oauth/token", {}, b"grant_type=password"))
    assert r.status == 401


def test_refresh_grant_and_expiry(uaa, clock):
    first = token(uaa, grant_type="password", username="admin", password="admin").body
    clock.now += 700  # the access token has expired; the refresh token has not
    with pytest.raises(TokenError, match="expired"):
        verify(first["access_token"], {"key-1": KEY.public_key}, clock.now)
    r = token(uaa, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert r.status == 200
    assert verify(r.body["access_token"], {"key-1": KEY.public_key}, clock.now)["user_name"] \
        == "admin"
    r = token(uaa, grant_type="refresh_token", refresh_token=first["access_token"])
    assert r.status == 401  # an access token is no refresh token


def test_client_credentials(uaa):
    r = token(uaa, client=("dash", "d"), grant_type="client_credentials")
    c = claims_of(r.body["access_token"])
    assert c["scope"] == ["cloud_controller.admin_read_only"] and "user_name" not in c
    assert "refresh_token" not in r.body


def test_ssh_code_is_one_time(uaa):
    access = token(uaa, grant_type="password", username="admin", password="admin").body[
        "access_token"]
    r = uaa.handle(Request.from_target(
        "GET", "/oauth/authorize?response_type=code&client_id=ssh-proxy",
        {"Authorization": f"bearer {access}"}))
    assert r.status == 302
    loc = urlsplit(r.headers["Location"])
    code = parse_qs(loc.query)["code"][0]
    assert loc.path == "/login" and len(code) == 10
    r = token(uaa, client=("ssh-proxy", "s3cret"), grant_type="authorization_code", code=code,
              redirect_uri="/login")
    assert r.status == 200 and claims_of(r.body["access_token"])["user_name"] == "admin"
    again = token(uaa, client=("ssh-proxy", "s3cret"), grant_type="authorization_code",
                  code=code, redirect_uri="/login")
    assert (again.status, again.body["error"]) == (400, "invalid_grant")
    r = uaa.handle(Request.from_target(
        "GET", "/oauth/authorize?response_type=code&client_id=ssh-proxy"))
    assert r.status == 401


def test_token_keys_openid_userinfo(uaa):
    keys = uaa.handle(Request.from_target("GET", "/token_keys")).body["keys"]
    assert keys[0]["kid"] == "key-1" and keys[0]["alg"] == "RS256" and keys[0]["e"] == "AQAB"
    assert "PUBLIC KEY" in keys[0]["value"]
    oidc = uaa.handle(Request.from_target("GET", "/.well-known/openid-configuration")).body
    assert oidc["token_endpoint"] == "https://127.0.0.1:9024/oauth/token"
    assert oidc["jwks_uri"] == "https://127.0.0.1:9024/token_keys"
    access = token(uaa, grant_type="password", username="admin", password="admin").body[
        "access_token"]
    info = uaa.handle(Request.from_target("GET", "/userinfo",
                                          {"Authorization": f"bearer {access}"}))
    assert info.status == 200 and info.body["user_name"] == "admin"


def test_cc_authenticator(uaa, clock):
    auth = Authenticator({"uaa": KEY.public_key}, clock)
    admin = token(uaa, grant_type="password", username="admin", password="admin").body
    reader = token(uaa, grant_type="password", username="reader", password="pw").body
    assert auth.caller("GET", "/", None) is None
    assert auth.caller("GET", "/v2/info", None) is None

    def err(method, header, path="/v2/apps"):
        with pytest.raises(CCError) as e:
            auth.caller(method, path, header)
        return e.value.status, e.value.v2()["error_code"]

    assert err("GET", None) == (401, "CF-NotAuthenticated")
    assert auth.caller("GET", "/v2/apps", f"bearer {admin['access_token']}").user_name == "admin"
    head, body, sig = admin["access_token"].split(".")
    c = json.loads(base64.urlsafe_b64decode(body + "=="))
    c["scope"].append("cloud_controller.admin")
    tampered = f"{head}.{b64url(json.dumps(c).encode())}.{sig}"
    assert err("GET", f"bearer {tampered}") == (401, "CF-InvalidAuthToken")
    assert err("GET", "bearer not-a-jwt") == (401, "CF-InvalidAuthToken")
    assert err("GET", f"bearer {admin['refresh_token']}") == (401, "CF-InvalidAuthToken")
    foreign = UAA(CFG, OTHER, clock)
    other = token(foreign, grant_type="password", username="admin", password="admin").body
    assert err("GET", f"bearer {other['access_token']}") == (401, "CF-InvalidAuthToken")
    assert auth.caller("GET", "/v2/apps", f"bearer {reader['access_token']}")
    assert err("POST", f"bearer {reader['access_token']}") == (403, "CF-NotAuthorized")
    clock.now += 601
    assert err("GET", f"bearer {admin['access_token']}") == (401, "CF-InvalidAuthToken")


def test_config_errors():
    with pytest.raises(config.ConfigError, match="clients.x.authorized-grant-types"):
        config.from_dict({"clients": {"x": {"authorized-grant-types": ["implicit"]}}})
    with pytest.raises(config.ConfigError, match=r"users\[0\]"):
        config.from_dict({"users": [{"username": "a"}]})
