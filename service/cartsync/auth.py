"""Who is calling: shop users (the shop's JWTs) and guests (cartsync's own tokens).

Litestar's JWT auth takes one secret and one algorithm; we accept two issuers, so this
is a small verifier on PyJWT with pinned algorithms, ``exp``/``iss``/``aud`` checked,
and verified claims cached by token until they expire (a verification costs tens of
microseconds; the cache makes a hot read cost none).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict

import jwt

from .carts.owners import Owner

__all__ = ["AuthError", "Authenticator", "Owner", "issue_user_token"]
from .settings import Settings

GUEST_ISSUER = "cartsync"
GUEST_AUDIENCE = "cartsync-guest"
STREAM_AUDIENCE = "cartsync-stream"
STREAM_TOKEN_TTL_S = 60
_CACHE_SIZE = 50_000


class AuthError(Exception):
    """A missing or invalid bearer token; ``code`` is the stable machine code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self._user_key = settings.jwt_key
        self._user_algorithm = settings.jwt_algorithm
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._guest_secret = settings.guest_secret
        self._guest_ttl = settings.guest_token_ttl_s
        self._cache: OrderedDict[str, tuple[Owner, float]] = OrderedDict()

    def owner(self, authorization: str | None) -> Owner:
        """The owner named by an ``Authorization: Bearer`` header value."""
        if not authorization:
            raise AuthError("missing_token", "An Authorization: Bearer token is required.")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("invalid_token", "Use Authorization: Bearer <token>.")
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None:
            if cached[1] > now:
                return cached[0]
            del self._cache[token]
        owner, expires = self._verify(token)
        self._cache[token] = (owner, expires)
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return owner

    def cached_owner(self, authorization: bytes) -> Owner | None:
        """The owner of an already verified, unexpired bearer token; None otherwise (the
        full path then verifies it). For the hot read path: no parsing, no crypto."""
        if not authorization.startswith((b"Bearer ", b"bearer ")):
            return None
        cached = self._cache.get(authorization[7:].decode("latin-1").strip())
        if cached is None or cached[1] <= time.time():
            return None
        return cached[0]

    def _verify(self, token: str) -> tuple[Owner, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError("invalid_token", "The bearer token is not a valid JWT.") from exc
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as exc:
            raise AuthError("invalid_token", "The bearer token is not a valid JWT.") from exc
        is_guest = unverified.get("iss") == GUEST_ISSUER and header.get("alg") == "HS256"
        try:
            if is_guest:
                claims = jwt.decode(
                    token,
                    self._guest_secret,
                    algorithms=["HS256"],
                    audience=GUEST_AUDIENCE,
                    issuer=GUEST_ISSUER,
                    options={"require": ["exp", "sub", "iss", "aud"]},
                )
            else:
                claims = jwt.decode(
                    token,
                    self._user_key,
                    algorithms=[self._user_algorithm],
                    audience=self._audience,
                    issuer=self._issuer,
                    options={"require": ["exp", "sub", "iss", "aud"]},
                )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token_expired", "The bearer token has expired.") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("invalid_token", "The bearer token could not be verified.") from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthError("invalid_token", "The bearer token names no subject.")
        owner = Owner("guest" if is_guest else "user", subject)
        return owner, float(claims["exp"])

    def issue_stream(self, owner: Owner) -> tuple[str, int]:
        """A token for one purpose: opening the caller's change feed from a browser's
        ``EventSource``, which cannot send an Authorization header. It travels in a URL,
        so it lives a minute and opens nothing else."""
        now = int(time.time())
        expires = now + STREAM_TOKEN_TTL_S
        token = jwt.encode(
            {
                "iss": GUEST_ISSUER,
                "aud": STREAM_AUDIENCE,
                "sub": f"{owner.kind}:{owner.subject}",
                "iat": now,
                "exp": expires,
            },
            self._guest_secret,
            algorithm="HS256",
        )
        return token, expires

    def stream_owner(self, token: str) -> Owner:
        try:
            claims = jwt.decode(
                token,
                self._guest_secret,
                algorithms=["HS256"],
                audience=STREAM_AUDIENCE,
                issuer=GUEST_ISSUER,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token_expired", "The stream token has expired.") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("invalid_token", "The stream token could not be verified.") from exc
        kind, _, subject = str(claims["sub"]).partition(":")
        if kind not in ("user", "guest") or not subject:
            raise AuthError("invalid_token", "The stream token names no owner.")
        return Owner(kind, subject)

    def guest_owner(self, token: str) -> Owner:
        """The guest named by a guest token (for merging it into a user's cart)."""
        owner = self.owner(f"Bearer {token}")
        if owner.kind != "guest":
            raise AuthError("invalid_token", "guest_token must be a guest token.")
        return owner

    def issue_guest(self) -> tuple[str, int]:
        """A new guest identity: a signed token and its expiry (unix seconds)."""
        now = int(time.time())
        expires = now + self._guest_ttl
        token = jwt.encode(
            {
                "iss": GUEST_ISSUER,
                "aud": GUEST_AUDIENCE,
                "sub": "g_" + secrets.token_hex(16),
                "iat": now,
                "exp": expires,
            },
            self._guest_secret,
            algorithm="HS256",
        )
        return token, expires


def issue_user_token(settings: Settings, subject: str, ttl_s: int = 3600) -> str:
    """A user token as the shop's identity provider would sign it (demo and tests; HS256)."""
    if settings.jwt_secret is None:
        raise ValueError("user tokens can only be minted with CARTSYNC_JWT_SECRET")
    now = int(time.time())
    return jwt.encode(
        {
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "sub": subject,
            "iat": now,
            "exp": now + ttl_s,
        },
        settings.jwt_secret,
        algorithm="HS256",
    )
