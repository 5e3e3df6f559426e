"""The one error of authentication: a missing, invalid or expired bearer token."""

from __future__ import annotations


class AuthError(Exception):
    """A missing or invalid bearer token; ``code`` is the stable machine code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
