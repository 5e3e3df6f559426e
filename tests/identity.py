"""An identity provider for tests: signing keys made here, a real JWKS server on a free
port, and tokens shaped as the WordPress JWT plugins and the usual IdPs shape theirs."""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass
class SigningKey:
    kid: str
    algorithm: str  # RS256 or ES256
    private: Any

    @classmethod
    def rsa(cls, kid: str | None = None) -> SigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid or "rsa-" + secrets.token_hex(4), "RS256", private)

    @classmethod
    def ec(cls, kid: str | None = None) -> SigningKey:
        private = ec.generate_private_key(ec.SECP256R1())
        return cls(kid or "ec-" + secrets.token_hex(4), "ES256", private)

    def jwk(self) -> dict[str, Any]:
        converter = RSAAlgorithm if self.algorithm == "RS256" else ECAlgorithm
        public = converter.to_jwk(self.private.public_key(), as_dict=True)
        assert isinstance(public, dict)
        return {**public, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.algorithm, headers={"kid": kid or self.kid}
        )


@dataclass
class JwksServer:
    """A JWKS endpoint (``/.well-known/jwks.json``) on 127.0.0.1, in a thread; ``keys`` is
    what it publishes now, ``fetches`` how many times it was asked. ``failing`` makes it
    answer 503; ``hold`` makes a fetch wait until ``release`` (or 10 s)."""

    keys: list[SigningKey] = field(default_factory=list)
    fetches: int = 0
    failing: bool = False
    hold: bool = False
    seen: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"

    def start(self) -> JwksServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    owner.fetches += 1
                owner.seen.set()
                if owner.hold:
                    owner.release.wait(10)
                if owner.failing:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"keys": [key.jwk() for key in owner.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self.release.set()
            self._server.shutdown()
            self._server.server_close()


# -- token shapes ------------------------------------------------------------------------
SHOP = "https://shop.example"


def _times(expires_in: int = 600) -> dict[str, int]:
    now = int(time.time())
    return {"iat": now, "nbf": now, "exp": now + expires_in}


def tmeister_claims(user_id: str = "42", expires_in: int = 600) -> dict[str, Any]:
    """JWT Authentication for WP REST API (Tmeister, wp-api-jwt-auth): ``iss`` is the
    site URL, the user id is ``$user->data->ID`` (a string: WordPress reads it from the
    database row), no ``sub``, no ``aud``; HS256 with JWT_AUTH_SECRET_KEY, 7 days."""
    return {"iss": SHOP, **_times(expires_in), "data": {"user": {"id": user_id}}}


def usefulteam_claims(user_id: int = 42, expires_in: int = 600) -> dict[str, Any]:
    """JWT Auth (usefulteam/jwt-auth): the same layout with ``$user->ID`` (an integer);
    HS256 with JWT_AUTH_SECRET_KEY, 10 minutes by default since v3."""
    return {"iss": SHOP, **_times(expires_in), "data": {"user": {"id": user_id}}}


def cocart_claims(user_id: int = 42, expires_in: int = 600) -> dict[str, Any]:
    """CoCart JWT Authentication: ``data.user`` also carries the login, the IP and user
    agent at login and the token's ``pat`` id; HS256 with COCART_JWT_AUTH_SECRET_KEY
    (RS256 through its key filters), 10 days."""
    user = {
        "id": user_id,
        "username": "jane",
        "ip": "203.0.113.7",
        "device": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)",
        "pat": "pat_" + secrets.token_hex(12),
    }
    return {"iss": SHOP, **_times(expires_in), "data": {"user": user}}


def auth0_claims(issuer: str, audience: str, subject: str, expires_in: int = 600) -> dict[str, Any]:
    """An Auth0 access token: ``iss`` the tenant URL with its slash, ``aud`` the API and
    the userinfo URL (a list), ``sub`` ``provider|id``, ``azp``, ``scope``; RS256."""
    return {
        "iss": issuer,
        "sub": subject,
        "aud": [audience, issuer + "userinfo"],
        "azp": "Xy7" + secrets.token_hex(8),
        "scope": "openid profile email",
        **_times(expires_in),
    }


def keycloak_claims(
    issuer: str, audience: str, subject: str, expires_in: int = 300
) -> dict[str, Any]:
    """A Keycloak access token (``iss`` ``.../realms/<realm>``, ``sub`` a UUID, ``typ``,
    ``azp``, ``realm_access``); ES256 when the realm's key is an EC one."""
    return {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "typ": "Bearer",
        "azp": "shop-app",
        "realm_access": {"roles": ["customer"]},
        "jti": secrets.token_hex(8),
        **_times(expires_in),
    }
