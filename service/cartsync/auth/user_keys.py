"""How the shop's user tokens are verified, and which claim names the user.

One source of keys, from the settings: a secret (HS256: WordPress JWT plugins, whose
tokens carry the user in ``data.user.id``), a PEM public key (RS256 or ES256), or an
identity provider's JWKS URL (Auth0, Cognito, Keycloak, Firebase: RS256 or ES256, the
key picked by the token's ``kid``). Algorithms are pinned to the key: a token cannot
choose how it is checked.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..carts.errors import Unavailable
from ..settings import Settings
from .errors import AuthError
from .jwks import JwksKeys, JwksUnavailable


class KeySource(Protocol):
    async def key_for(self, header: dict[str, Any]) -> tuple[Any, list[str]]:
        """The key to verify a token with this (unverified) header, and the algorithms
        it may be signed with."""
        ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class StaticKey:
    def __init__(self, key: str, algorithm: str) -> None:
        self._key = key
        self._algorithms = [algorithm]

    async def key_for(self, header: dict[str, Any]) -> tuple[Any, list[str]]:
        return self._key, self._algorithms

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class JwksKeySource:
    def __init__(self, keys: JwksKeys) -> None:
        self.keys = keys

    async def key_for(self, header: dict[str, Any]) -> tuple[Any, list[str]]:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise AuthError("invalid_token", "The bearer token names no signing key (kid).")
        try:
            key = await self.keys.key(kid)
        except JwksUnavailable as exc:
            raise Unavailable(
                "identity_unavailable",
                "The identity provider's keys cannot be fetched; retry shortly.",
                retry_after=self.keys.retry_after_s,
            ) from exc
        if key is None:
            raise AuthError(
                "invalid_token", "The bearer token is signed with a key its issuer does not list."
            )
        return key, [key.algorithm_name]

    async def start(self) -> None:
        await self.keys.prefetch()

    async def aclose(self) -> None:
        await self.keys.aclose()


def key_source(settings: Settings) -> KeySource:
    if settings.jwt_jwks_url:
        return JwksKeySource(JwksKeys(settings.jwt_jwks_url))
    return StaticKey(settings.jwt_key, settings.jwt_algorithm)


def subject_of(claims: dict[str, Any], path: str) -> str:
    """The user named by the claim at ``path``: a claim name (looked up whole first, so an
    IdP's namespaced ``https://shop.example/id`` works), else a dotted path into nested
    objects (``data.user.id``). Strings and integers (WordPress user ids) are accepted;
    an integer becomes its decimal string, so ``42`` and ``"42"`` are the same user."""
    value: Any = claims.get(path)
    if value is None and "." in path:
        value = claims
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value or len(value) > 256:
        raise AuthError("invalid_token", f"The bearer token names no user (claim {path}).")
    return value
