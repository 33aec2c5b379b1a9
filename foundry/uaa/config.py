"""uaa.json, as the orchestrator renders it under /var/vcap/jobs/uaa/config/.

Users and OAuth clients come from the foundation config, as cf-deployment's
`uaa.scim.users` and `uaa.clients` properties do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from foundry.jobconfig import ConfigError, JobConfig

GRANT_TYPES = ("password", "refresh_token", "client_credentials", "authorization_code")


@dataclass(frozen=True)
class User:
    username: str
    password: str
    groups: tuple[str, ...]
    email: str = ""
    user_id: str = ""


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str
    authorized_grant_types: tuple[str, ...]
    scope: tuple[str, ...] = ()
    authorities: tuple[str, ...] = ()
    redirect_uri: tuple[str, ...] = ()
    autoapprove: bool = False
    access_token_validity: int = 0   # seconds; 0: the zone's default
    refresh_token_validity: int = 0


@dataclass(frozen=True)
class UAAConfig(JobConfig):
    special = ("users", "clients")

    listen_address: str = "0.0.0.0:8443"
    cert_file: str = ""
    key_file: str = ""
    signing_key_file: str = ""
    signing_key_id: str = "key-1"
    url: str = "https://uaa.service.cf.internal:8443"  # how clients reach us (issuer base)
    access_token_validity: int = 43200   # UAA's zone defaults
    refresh_token_validity: int = 2592000
    code_validity: int = 300
    users: tuple[User, ...] = ()
    clients: dict[str, Client] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return self.url.rstrip("/") + "/oauth/token"

    @classmethod
    def special_fields(cls, raw: dict[str, Any]) -> dict[str, Any]:
        users = raw.get("users", [])
        clients = raw.get("clients", {})
        if not isinstance(users, list):
            raise ConfigError("users: expected a list")
        if not isinstance(clients, dict):
            raise ConfigError("clients: expected a mapping of client id to client")
        parsed = tuple(parse_user(u, i) for i, u in enumerate(users))
        if len({u.username for u in parsed}) != len(parsed):
            raise ConfigError("users: two users share a username")
        return {"users": parsed,
                "clients": {c: parse_client(c, v) for c, v in clients.items()}}

    def check(self) -> None:
        for key in ("access_token_validity", "refresh_token_validity", "code_validity"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{key}: expected a whole number of seconds, "
                                  f"got {getattr(self, key)!r}")


def _strs(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{name}: expected a list of strings or a comma-separated string")
    return tuple(value)


def _int(raw: dict[str, Any], key: str, default: int, name: str) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name}: expected a whole number of seconds, got {value!r}")
    return value


def parse_user(raw: Any, i: int) -> User:
    if not isinstance(raw, dict) or not isinstance(raw.get("username"), str) \
            or not isinstance(raw.get("password"), str) or not raw["username"]:
        raise ConfigError(f"users[{i}]: needs username and password strings")
    return User(raw["username"], raw["password"],
                _strs(raw.get("groups", []), f"users[{i}].groups"),
                str(raw.get("email") or raw["username"]),
                str(raw.get("user_id") or ""))


def parse_client(cid: str, raw: Any) -> Client:
    name = f"clients.{cid}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a mapping")
    grants = _strs(raw.get("authorized-grant-types", raw.get("authorized_grant_types", [])),
                   f"{name}.authorized-grant-types")
    for g in grants:
        if g not in GRANT_TYPES:
            raise ConfigError(f"{name}.authorized-grant-types: unknown grant type {g!r}")
    secret = raw.get("secret", "")
    if not isinstance(secret, str):
        raise ConfigError(f"{name}.secret: expected a string")
    return Client(cid, secret, grants, _strs(raw.get("scope", []), f"{name}.scope"),
                  _strs(raw.get("authorities", []), f"{name}.authorities"),
                  _strs(raw.get("redirect-uri", raw.get("redirect_uri", [])),
                        f"{name}.redirect-uri"),
                  bool(raw.get("autoapprove", False)),
                  _int(raw, "access-token-validity", 0, f"{name}.access-token-validity"),
                  _int(raw, "refresh-token-validity", 0, f"{name}.refresh-token-validity"))


from_dict = UAAConfig.from_dict
load = UAAConfig.load
