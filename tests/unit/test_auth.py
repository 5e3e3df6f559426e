"""Bearer tokens: the shop's (HS256 or RS256) and our guest tokens, all checked strictly.

Identity providers (JWKS), WordPress plugin shapes and leeway: ``test_identity.py``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cartsync.auth import Authenticator, AuthError, issue_user_token
from cartsync.cli import placeholder_settings

SETTINGS = placeholder_settings()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(
    claims: dict[str, object], key: str = SETTINGS.jwt_secret or "", algorithm: str = "HS256"
) -> str:
    now = int(time.time())
    base = {
        "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience,
        "sub": "alice",
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode({**base, **claims}, key, algorithm=algorithm)


class TestUserTokens:
    async def test_a_valid_token_names_the_user(self) -> None:
        owner = await Authenticator(SETTINGS).owner(f"Bearer {issue_user_token(SETTINGS, 'alice')}")
        assert (owner.kind, owner.subject) == ("user", "alice")
        assert "alice" not in owner.id

    @pytest.mark.parametrize(
        ("claims", "code"),
        [
            ({"exp": int(time.time()) - 120}, "token_expired"),  # past the 30 s leeway
            ({"iss": "https://evil.example"}, "invalid_token"),
            ({"aud": "someone-else"}, "invalid_token"),
            ({"sub": ""}, "invalid_token"),
        ],
    )
    async def test_expiry_issuer_audience_and_subject_are_checked(
        self, claims: dict[str, object], code: str
    ) -> None:
        with pytest.raises(AuthError) as caught:
            await Authenticator(SETTINGS).owner(f"Bearer {_token(claims)}")
        assert caught.value.code == code

    async def test_a_token_signed_with_another_secret_is_refused(self) -> None:
        with pytest.raises(AuthError):
            await Authenticator(SETTINGS).owner(f"Bearer {_token({}, key='z' * 32)}")

    async def test_the_none_algorithm_is_refused(self) -> None:
        unsigned = jwt.encode(
            {
                "iss": SETTINGS.jwt_issuer,
                "aud": SETTINGS.jwt_audience,
                "sub": "alice",
                "exp": int(time.time()) + 60,
            },
            None,
            algorithm="none",
        )
        with pytest.raises(AuthError):
            await Authenticator(SETTINGS).owner(f"Bearer {unsigned}")

    @pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer not-a-jwt"])
    async def test_missing_or_malformed_headers_are_refused(self, header: str | None) -> None:
        with pytest.raises(AuthError):
            await Authenticator(SETTINGS).owner(header)

    async def test_rs256_public_keys_verify_rs256_tokens_only(self) -> None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = (
            private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        settings = msgspec.structs.replace(SETTINGS, jwt_secret=None, jwt_public_key=public_pem)
        authenticator = Authenticator(settings)
        good = _token({}, key=private, algorithm="RS256")  # type: ignore[arg-type]
        assert (await authenticator.owner(f"Bearer {good}")).subject == "alice"
        # The classic confusion attack: HS256 signed with the public key as the secret
        # (built by hand: PyJWT itself refuses to sign so).
        header = _b64(b'{"alg":"HS256","typ":"JWT"}')
        payload = _b64(
            json.dumps(
                {
                    "iss": SETTINGS.jwt_issuer,
                    "aud": SETTINGS.jwt_audience,
                    "sub": "alice",
                    "exp": int(time.time()) + 60,
                }
            ).encode()
        )
        mac = hmac.new(public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
        with pytest.raises(AuthError):
            await authenticator.owner(f"Bearer {header}.{payload}.{_b64(mac.digest())}")


class TestGuestTokens:
    async def test_a_guest_token_names_a_guest_and_verifies(self) -> None:
        authenticator = Authenticator(SETTINGS)
        token, expires = authenticator.issue_guest()
        owner = await authenticator.owner(f"Bearer {token}")
        assert owner.kind == "guest"
        assert owner.subject.startswith("g_")
        assert expires > time.time()

    async def test_a_guest_token_forged_with_another_secret_is_refused(self) -> None:
        now = int(time.time())
        forged = jwt.encode(
            {"iss": "cartsync", "aud": "cartsync-guest", "sub": "g_x", "exp": now + 60},
            "w" * 32,
            algorithm="HS256",
        )
        with pytest.raises(AuthError):
            await Authenticator(SETTINGS).owner(f"Bearer {forged}")
