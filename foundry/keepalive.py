"""One HTTP/1.1 connection kept open per thread, for the jobs' stdlib clients.

A new connection per call, as urllib makes, costs a TCP handshake and, on the BBS's
mutual TLS, a full RSA-2048 handshake per request; and a server thread per connection
on the jobs' threading servers. Go's http.Client, which the real jobs use, keeps its
connections (idle up to 90 s); so does this, up to `REUSE_IDLE_S`.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import time
import urllib.parse

# A kept connection idle longer than this is replaced before use. The BBS and the CC
# never close an idle one (a server that does is covered by the retry below); the rep's
# presence refresh and policy poll come every few seconds; Go's idle limit is 90 s.
REUSE_IDLE_S = 60.0


class KeptConnection:
    """Per thread, one connection to `host:port`; https through `tls` (else the
    default context) when `https`. Each request's path goes after `prefix`."""

    def __init__(self, host: str, port: int | None, https: bool = False,
                 tls: ssl.SSLContext | None = None, prefix: str = "") -> None:
        self.host, self.port, self.https, self.tls = host, port, https, tls
        self.prefix = prefix
        self._local = threading.local()

    @classmethod
    def for_url(cls, url: str, tls: ssl.SSLContext | None = None) -> KeptConnection:
        """To an http(s) base URL (its path the prefix); ValueError for any other."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url}: not an http(s) URL")
        return cls(parts.hostname, parts.port, parts.scheme == "https", tls,
                   parts.path.rstrip("/"))

    def _connection(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection and whether it was used before."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and time.monotonic() - self._local.used > REUSE_IDLE_S:
            self.close()
            conn = None
        reused = conn is not None
        if conn is None:
            conn = (http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                                context=self.tls or ssl.create_default_context())
                    if self.https else http.client.HTTPConnection(self.host, self.port,
                                                                   timeout=timeout))
            self._local.conn = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn, reused

    def close(self) -> None:
        """Close this thread's kept connection (the next call opens a new one)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def exchange(self, method: str, path: str, data: bytes | None, headers: dict[str, str],
                 timeout: float) -> tuple[int, bytes]:
        """(status, body). A kept connection the server closed first is retried once on a
        new one (the request never ran); any other failure closes it and raises
        OSError or http.client.HTTPException."""
        retried = False
        while True:
            conn, reused = self._connection(timeout)
            try:
                conn.request(method, self.prefix + path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                self.close()
                if reused and not retried:
                    retried = True
                    continue
                raise
            except (OSError, http.client.HTTPException):
                self.close()
                raise
            if resp.will_close:
                self.close()
            else:
                self._local.used = time.monotonic()
            return resp.status, raw
