"""What the control-plane HTTP APIs share: a request as `foundry.httpserver` hands it to
a job's socket-free API, and reading its JSON body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Self
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""
    headers: Message = field(default_factory=Message)  # names case-insensitive, as sent

    @classmethod
    def from_target(cls, method: str, target: str, body: bytes = b"",
                    headers: Message | None = None) -> Self:
        path, _, qs = target.partition("?")
        return cls(method.upper(), path, parse_qs(qs, keep_blank_values=True), body,
                   Message() if headers is None else headers)


def parse_json(body: bytes) -> Any:
    """`body` as JSON that can be stored and sent on; ValueError naming why not.

    Nesting too deep (RecursionError) and a lone surrogate ("\\ud800", which parses but
    can never be encoded) are ValueErrors too, so one `except` covers every bad body.
    """
    try:
        data = json.loads(body)
    except RecursionError as e:
        raise ValueError(str(e)) from None
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ValueError("invalid Unicode escape in a string") from None
    return data
