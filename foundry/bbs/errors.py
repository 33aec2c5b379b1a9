"""Errors the BBS answers with; each maps to one HTTP status."""

from __future__ import annotations


class BBSError(Exception):
    """A request the BBS refuses; ``status`` is the HTTP answer."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(BBSError):
    status = 400


class NotFound(BBSError):
    status = 404


class Conflict(BBSError):
    """A lifecycle transition the record's current state does not allow."""

    status = 409
