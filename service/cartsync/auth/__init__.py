"""Who is calling: shop users (the shop's JWTs) and guests (cartsync's own tokens).

- ``authenticator``: bearer tokens to owners, verified claims cached until they expire;
  guest and stream tokens issued and checked.
- ``user_keys``: how the shop's tokens are verified: a secret (HS256), a public key
  (RS256/ES256) or an identity provider's JWKS URL (``jwks``); which claim names the user.
- ``jwks``: the identity provider's signing keys, cached, refreshed and bounded.
"""

from __future__ import annotations

from ..carts.owners import Owner
from .authenticator import (
    GUEST_AUDIENCE,
    GUEST_ISSUER,
    STREAM_AUDIENCE,
    STREAM_TOKEN_TTL_S,
    Authenticator,
    issue_user_token,
)
from .errors import AuthError

__all__ = [
    "GUEST_AUDIENCE",
    "GUEST_ISSUER",
    "STREAM_AUDIENCE",
    "STREAM_TOKEN_TTL_S",
    "AuthError",
    "Authenticator",
    "Owner",
    "issue_user_token",
]
