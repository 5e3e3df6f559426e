"""Bearer tokens to owners: the shop's user tokens and cartsync's own guest tokens.

Litestar's JWT auth takes one secret and one algorithm; we accept two issuers, so this
is a small verifier on PyJWT with pinned algorithms, ``exp``/``iss`` (and ``aud`` when
configured) checked with a clock-skew leeway, and verified claims cached by token until
they expire (a verification costs tens of microseconds; the cache makes a hot read cost
none). Tokens are never logged.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from typing import Any

import jwt

from ..carts.owners import Owner
from ..settings import Settings
from .errors import AuthError
from .user_keys import KeySource, key_source, subject_of

GUEST_ISSUER = "cartsync"
GUEST_AUDIENCE = "cartsync-guest"
STREAM_AUDIENCE = "cartsync-stream"
STREAM_TOKEN_TTL_S = 60
_CACHE_SIZE = 50_000
_GUEST_CLAIMS: Any = {"require": ["exp", "sub", "iss", "aud"]}


class Authenticator:
    def __init__(self, settings: Settings, keys: KeySource | None = None) -> None:
        self._keys = keys or key_source(settings)
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience or None
        self._subject_claim = settings.jwt_subject_claim
        self._leeway = settings.jwt_leeway_s
        required = ["exp", "iss"] + (["aud"] if self._audience else [])
        self._user_options: Any = {"require": required, "verify_aud": self._audience is not None}
        self._guest_secret = settings.guest_secret
        self._guest_ttl = settings.guest_token_ttl_s
        self._cache: OrderedDict[str, tuple[Owner, float]] = OrderedDict()

    async def start(self) -> None:
        """Fetch what verifying needs ahead of the first request (a JWKS key set)."""
        await self._keys.start()

    async def aclose(self) -> None:
        await self._keys.aclose()

    async def owner(self, authorization: str | None) -> Owner:
        """The owner named by an ``Authorization: Bearer`` header value."""
        if not authorization:
            raise AuthError("missing_token", "An Authorization: Bearer token is required.")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("invalid_token", "Use Authorization: Bearer <token>.")
        cached = self._cached(token)
        if cached is not None:
            return cached
        header, unverified = _unverified(token)
        if unverified.get("iss") == GUEST_ISSUER and header.get("alg") == "HS256":
            owner, expires = self._verify_guest(token)
        else:
            owner, expires = await self._verify_user(token, header)
        self._remember(token, owner, expires)
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

    def _cached(self, token: str) -> Owner | None:
        cached = self._cache.get(token)
        if cached is None:
            return None
        if cached[1] > time.time():
            return cached[0]
        del self._cache[token]
        return None

    def _remember(self, token: str, owner: Owner, expires: float) -> None:
        self._cache[token] = (owner, expires)
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    async def _verify_user(self, token: str, header: dict[str, Any]) -> tuple[Owner, float]:
        key, algorithms = await self._keys.key_for(header)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options=self._user_options,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token_expired", "The bearer token has expired.") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("invalid_token", "The bearer token could not be verified.") from exc
        owner = Owner("user", subject_of(claims, self._subject_claim), issued_at=_iat(claims))
        return owner, float(claims["exp"]) + self._leeway

    def _verify_guest(self, token: str) -> tuple[Owner, float]:
        claims = _decode_ours(token, self._guest_secret, GUEST_AUDIENCE, "bearer")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthError("invalid_token", "The bearer token names no subject.")
        return Owner("guest", subject, issued_at=_iat(claims)), float(claims["exp"])

    def issue_stream(self, owner: Owner) -> tuple[str, int]:
        """A token for one purpose: opening the caller's change feed from a browser's
        ``EventSource``, which cannot send an Authorization header. It travels in a URL,
        so it lives a minute and opens nothing else."""
        return self._issue(f"{owner.kind}:{owner.subject}", STREAM_AUDIENCE, STREAM_TOKEN_TTL_S)

    def stream_owner(self, token: str) -> Owner:
        claims = _decode_ours(token, self._guest_secret, STREAM_AUDIENCE, "stream")
        kind, _, subject = str(claims["sub"]).partition(":")
        if kind not in ("user", "guest") or not subject:
            raise AuthError("invalid_token", "The stream token names no owner.")
        return Owner(kind, subject)

    def guest_owner(self, token: str) -> Owner:
        """The guest named by a guest token (for merging it into a user's cart)."""
        cached = self._cached(token)
        if cached is not None and cached.kind == "guest":
            return cached
        _, unverified = _unverified(token)
        if unverified.get("iss") != GUEST_ISSUER:
            raise AuthError("invalid_token", "guest_token must be a guest token.")
        owner, expires = self._verify_guest(token)
        self._remember(token, owner, expires)
        return owner

    def issue_guest(self) -> tuple[str, int]:
        """A new guest identity: a signed token and its expiry (unix seconds)."""
        return self._issue("g_" + secrets.token_hex(16), GUEST_AUDIENCE, self._guest_ttl)

    def _issue(self, subject: str, audience: str, ttl_s: int) -> tuple[str, int]:
        now = int(time.time())
        claims = {"iss": GUEST_ISSUER, "aud": audience, "sub": subject, "iat": now}
        token = jwt.encode({**claims, "exp": now + ttl_s}, self._guest_secret, algorithm="HS256")
        return token, now + ttl_s


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a token, unverified (to pick how to verify it)."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise AuthError("invalid_token", "The bearer token is not a valid JWT.") from exc
    return header, claims


def _decode_ours(token: str, secret: str, audience: str, what: str) -> dict[str, Any]:
    """A token cartsync signed (guest or stream), checked strictly: no leeway."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience,
            issuer=GUEST_ISSUER,
            options=_GUEST_CLAIMS,
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token_expired", f"The {what} token has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError("invalid_token", f"The {what} token could not be verified.") from exc
    return claims


def issue_user_token(settings: Settings, subject: str, ttl_s: int = 3600) -> str:
    """A user token as the shop's identity provider would sign it (demo and tests; HS256)."""
    if settings.jwt_secret is None:
        raise ValueError("user tokens can only be minted with CARTSYNC_JWT_SECRET")
    now = int(time.time())
    claims: dict[str, Any] = {"iss": settings.jwt_issuer, "sub": subject, "iat": now}
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode({**claims, "exp": now + ttl_s}, settings.jwt_secret, algorithm="HS256")


def _iat(claims: dict[str, Any]) -> float | None:
    """When the token was issued, if it says (the state watch asks: could this owner
    have had a cart before the state store lost its data?)."""
    issued = claims.get("iat")
    return float(issued) if isinstance(issued, int | float) else None
