"""One check against ip:port: TCP connect, or HTTP GET expecting 200."""

from __future__ import annotations

import socket

from foundry.healthcheck.result import Result, classify_http, classify_tcp


def check(ip: str, port: int, uri: str, timeout: float) -> Result:
    if not uri:
        try:
            with socket.create_connection((ip, port), timeout=timeout):
                pass
        except OSError as e:
            return classify_tcp(_timeout_or(e), port)
        return classify_tcp(None, port)
    import http.client  # noqa: PLC0415 - 70 ms of imports a TCP check never needs

    conn = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        conn.request("GET", uri, headers={"User-Agent": "diego-healthcheck",
                                          "X-Forwarded-Proto": "https", "Connection": "close"})
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as e:
        return classify_http(_timeout_or(e), None, uri, port)
    finally:
        conn.close()
    return classify_http(None, status, uri, port)


def _timeout_or(e: BaseException) -> BaseException:
    return TimeoutError(str(e)) if isinstance(e, socket.timeout | TimeoutError) else e
