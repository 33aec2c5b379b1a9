"""The host-side HTTP clients' transport: a `requests` session over a prepared TLS context.

cflab's clients (the `cf` CLI, the scenarios, the tests) hold their trust as an
`ssl.SSLContext`: the lab CA's PEM from the cf config (no file to name), a client
certificate for mutual TLS, or "skip validation". requests only takes file paths
(`verify=`, `cert=`), and with `verify=True` it loads certifi's public roots into the
connection, so `TLSContextAdapter` hands urllib3 the context itself and keeps requests
from adding CA files to it.

Job code inside the containers stays on the standard library (`foundry/keepalive.py`).
"""

from __future__ import annotations

import ssl
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter


class TLSContextAdapter(HTTPAdapter):
    """Every https connection uses `ctx` as it is: its CA, client certificate, checks."""

    def __init__(self, ctx: ssl.SSLContext, **kwargs: Any) -> None:
        self._ctx = ctx
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._ctx
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would point the connection at certifi's bundle (or none when
        # verify=False); the context already says what to trust.
        conn.cert_reqs = "CERT_NONE" if self._ctx.verify_mode == ssl.CERT_NONE \
            else "CERT_REQUIRED"
        conn.ca_certs = conn.ca_cert_dir = None


def session(ctx: ssl.SSLContext | None = None) -> requests.Session:
    """A session for the lab's own addresses: https through `ctx` when given, and no
    proxies or .netrc from the environment (a lab address must not go through a proxy)."""
    s = requests.Session()
    s.trust_env = False
    if ctx is not None:
        s.mount("https://", TLSContextAdapter(ctx))
        s.verify = ctx.verify_mode != ssl.CERT_NONE
        if not s.verify:  # the caller chose to skip validation; don't warn per request
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return s


def root_cause(exc: BaseException) -> BaseException:
    """The innermost socket or TLS error under a requests failure (ConnectionRefusedError,
    RemoteDisconnected, SSLCertVerificationError, TimeoutError...), else `exc` itself."""
    found: BaseException = exc
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and not isinstance(e, requests.RequestException) \
                and not type(e).__module__.startswith("urllib3"):
            found = e
        inner = getattr(e, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in e.args if isinstance(a, BaseException)), None)
        e = inner or e.__cause__ or e.__context__
    return found


def reason(exc: BaseException) -> str:
    """`root_cause` as the socket or TLS layer named it ("[Errno 111] Connection refused",
    "[SSL: CERTIFICATE_VERIFY_FAILED] ..."), rather than urllib3's
    "HTTPSConnectionPool(...): Max retries exceeded ..." wrapper."""
    found = root_cause(exc)
    return "timed out" if isinstance(found, TimeoutError) else str(found)
