"""Who may reach which instance: the ssh-proxy's CF authenticator, apart from sockets.

As Diego's `cf_authenticator.go`: the user name is `cf:<app guid>/<index>`, the password
a one-time code from `cf ssh-code`. The code is redeemed at UAA (authorization_code
grant, client `ssh-proxy`) for the user's token; the Cloud Controller's
`/internal/apps/<guid>/ssh_access/<index>` says with that token whether the user may
ssh to the app and names its process guid; the BBS's actual LRP gives the address.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

USER = re.compile(r"^cf:(?P<guid>[0-9a-fA-F-]{1,64})/(?P<index>\d{1,5})$")
SSH_PORT = 2222

# (method, url, headers, body) -> (status, body)
HTTP = Callable[[str, str, dict[str, str], bytes | None], tuple[int, bytes]]


class Denied(Exception):
    """Authentication fails; the message is for the proxy's log, never for the client."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    tls: bool
    instance_guid: str  # the name the instance's TLS certificate carries (strict mode)
    process_guid: str
    index: int


def parse_user(username: str) -> tuple[str, int]:
    m = USER.match(username)
    if m is None:
        raise Denied(f"user name {username[:80]!r} is not cf:<app guid>/<index>")
    return m["guid"], int(m["index"])


def target_of(lrp: dict[str, Any], tls: bool) -> Target:
    """Where the instance's sshd is reached from the foundation network.

    Without TLS: the cell's host port mapped to container port 2222. With TLS (strict
    mode, no unproxied mappings): the cell's host port for the proxy in front of 2222.
    """
    if lrp.get("state") != "RUNNING":
        raise Denied(f"instance {lrp.get('index')} is {lrp.get('state')}, not RUNNING")
    for p in lrp.get("ports") or []:
        if p.get("container_port") != SSH_PORT:
            continue
        port = p.get("host_tls_proxy_port") if tls else p.get("host_port")
        if port:
            return Target(lrp["address"], int(port), tls, lrp.get("instance_guid", ""),
                          lrp["process_guid"], int(lrp["index"]))
    raise Denied("the instance has no " + ("TLS proxy port" if tls else "host port")
                 + f" for {SSH_PORT}")


class Authenticator:
    def __init__(self, http: HTTP, uaa_url: str, client: str, secret: str, redirect_uri: str,
                 cc_url: str, bbs_url: str, tls: bool) -> None:
        self.http, self.uaa, self.cc, self.bbs = http, uaa_url.rstrip("/"), \
            cc_url.rstrip("/"), bbs_url.rstrip("/")
        self.basic = "Basic " + base64.b64encode(f"{client}:{secret}".encode()).decode()
        self.redirect_uri, self.tls = redirect_uri, tls

    def _json(self, status: int, body: bytes, what: str) -> Any:
        if status != 200:
            raise Denied(f"{what}: status {status}")
        try:
            return json.loads(body)
        except ValueError:
            raise Denied(f"{what}: not JSON") from None

    def authenticate(self, username: str, code: str) -> Target:
        guid, index = parse_user(username)
        form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": self.redirect_uri}).encode()
        status, body = self.http("POST", f"{self.uaa}/oauth/token", {
            "Authorization": self.basic, "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded"}, form)
        token = self._json(status, body, "UAA refused the code").get("access_token")
        if not token:
            raise Denied("UAA answered without an access token")
        status, body = self.http("GET", f"{self.cc}/internal/apps/{guid}/ssh_access/{index}",
                                 {"Authorization": f"bearer {token}",
                                  "Accept": "application/json"}, None)
        pg = self._json(status, body, f"the Cloud Controller denied ssh to {guid}/{index}") \
            .get("process_guid")
        if not pg:
            raise Denied("the Cloud Controller named no process guid")
        q = urllib.parse.urlencode({"process_guid": pg, "index": index})
        status, body = self.http("GET", f"{self.bbs}/v1/actual_lrps?{q}", {}, None)
        lrps = self._json(status, body, "the BBS")
        if not lrps:
            raise Denied(f"no actual LRP {pg}/{index}")
        return target_of(lrps[0], self.tls)
