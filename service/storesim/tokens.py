"""Cart-Token JWTs and WordPress nonces, made the way WooCommerce makes them (8.9.1 and
9.9.5 alike)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
from dataclasses import dataclass
from typing import Any

TOKEN_LIFETIME_S = 2 * 24 * 3600  # wc_session_expiration: 48 h
NONCE_TICK_S = 12 * 3600  # wp_nonce_tick: half of DAY_IN_SECONDS
ISSUER = "wc/store/v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _php_json(payload: dict[str, Any]) -> bytes:
    """``wp_json_encode``: compact, with ``/`` escaped as ``\\/``."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


def new_guest_id() -> str:
    """``t_`` and 30 hex digits, as the real store's guest session ids."""
    return "t_" + secrets.token_hex(15)


@dataclass(frozen=True, slots=True)
class TokenSigner:
    """Signs and checks Cart-Tokens with the store's ``'@' . wp_salt()`` secret."""

    secret: bytes

    def sign(self, payload: dict[str, Any]) -> str:
        header = _b64(_php_json({"alg": "HS256", "typ": "JWT"}))
        body = _b64(_php_json(payload))
        signature = hmac.new(self.secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64(signature)}"

    def issue(self, user_id: str, now: float) -> str:
        iat = int(now)
        return self.sign(
            {"user_id": user_id, "exp": iat + TOKEN_LIFETIME_S, "iss": ISSUER, "iat": iat}
        )

    def decode(self, token: str | None) -> dict[str, Any] | None:
        """The payload of a token that is well formed and correctly signed, else None."""
        if not token:
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_unb64(parts[0]))
            payload = json.loads(_unb64(parts[1]))
            signature = _unb64(parts[2])
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            return None
        if header.get("typ") != "JWT" or not isinstance(payload, dict):
            return None
        expected = hmac.new(self.secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, signature):
            return None
        return payload

    def valid_user(self, token: str | None, now: float) -> str | None:
        """The ``user_id`` of a valid, unexpired token (``iss`` is not checked, as upstream)."""
        payload = self.decode(token)
        if payload is None:
            return None
        exp = payload.get("exp")
        user_id = payload.get("user_id")
        if not isinstance(exp, int) or exp < now or not isinstance(user_id, str | int):
            return None
        return str(user_id)


@dataclass(frozen=True, slots=True)
class NonceMaker:
    """``wp_create_nonce('wc_store_api')`` for user 0: one value per 12-hour tick."""

    salt: bytes

    @staticmethod
    def tick(now: float) -> int:
        return math.ceil(now / NONCE_TICK_S)

    def for_tick(self, tick: int) -> str:
        digest = hmac.new(self.salt, f"{tick}|wc_store_api|0|".encode(), hashlib.md5).hexdigest()
        return digest[-12:-2]

    def current(self, now: float) -> str:
        return self.for_tick(self.tick(now))

    def is_valid(self, nonce: str | None, now: float) -> bool:
        """Valid for the current and the previous tick: 12 to 24 hours."""
        if not nonce:
            return False
        tick = self.tick(now)
        return any(hmac.compare_digest(nonce, self.for_tick(t)) for t in (tick, tick - 1))
