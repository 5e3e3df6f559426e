"""Identity for real shops: WordPress JWT plugins' tokens (the user in ``data.user.id``),
identity providers' keys from a JWKS URL (a real server on a free port, keys made here),
key rotation, floods of unknown ``kid``s, and clock-skew leeway."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import jwt
import msgspec
import pytest

from cartsync.auth import Authenticator, AuthError
from cartsync.auth.jwks import JwksKeys
from cartsync.auth.user_keys import JwksKeySource
from cartsync.carts.errors import Unavailable
from cartsync.cli import placeholder_settings
from cartsync.settings import Settings

from ..identity import (
    SHOP,
    JwksServer,
    SigningKey,
    auth0_claims,
    cocart_claims,
    keycloak_claims,
    tmeister_claims,
    usefulteam_claims,
)

WP_SECRET = "wordpress-jwt-auth-secret-key-0123456789"
IDP = "https://shop.eu.auth0.com/"
API = "https://api.shop.example"


class Clock:
    """Monotonic time the test moves on (the JWKS refresh interval without sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _wordpress(**changes: Any) -> Settings:
    """A shop whose users log in with a WordPress JWT plugin: its secret, the site URL
    as issuer, the user id in data.user.id, no audience."""
    wordpress: dict[str, Any] = {
        "jwt_secret": WP_SECRET,
        "jwt_issuer": SHOP,
        "jwt_audience": None,
        "jwt_subject_claim": "data.user.id",
    }
    return msgspec.structs.replace(placeholder_settings(), **{**wordpress, **changes})


def _bearer(token: str) -> str:
    return f"Bearer {token}"


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer(keys=[SigningKey.rsa("2024-rsa"), SigningKey.ec("2024-ec")]).start()
    try:
        yield server
    finally:
        server.stop()


def _idp(server_url: str, clock: Clock | None = None) -> Authenticator:
    settings = msgspec.structs.replace(
        placeholder_settings(),
        jwt_secret=None,
        jwt_jwks_url=server_url,
        jwt_issuer=IDP,
        jwt_audience=API,
    )
    keys = JwksKeys(server_url, clock=clock or time.monotonic)
    return Authenticator(settings, JwksKeySource(keys))


class TestWordPressPlugins:
    @pytest.mark.parametrize(
        "claims",
        [tmeister_claims("42"), usefulteam_claims(42), cocart_claims(42)],
        ids=["jwt-authentication-for-wp-rest-api", "jwt-auth (usefulteam)", "cocart-jwt"],
    )
    async def test_each_plugins_token_names_its_user_by_data_user_id(
        self, claims: dict[str, Any]
    ) -> None:
        token = jwt.encode(claims, WP_SECRET, algorithm="HS256")
        owner = await Authenticator(_wordpress()).owner(_bearer(token))
        assert (owner.kind, owner.subject) == ("user", "42")

    async def test_a_numeric_and_a_string_id_are_the_same_user(self) -> None:
        authenticator = Authenticator(_wordpress())
        as_string = jwt.encode(tmeister_claims("42"), WP_SECRET, algorithm="HS256")
        as_number = jwt.encode(usefulteam_claims(42), WP_SECRET, algorithm="HS256")
        assert (await authenticator.owner(_bearer(as_string))).id == (
            await authenticator.owner(_bearer(as_number))
        ).id

    @pytest.mark.parametrize(
        "data",
        [{}, {"user": {}}, {"user": {"id": True}}, {"user": {"id": ""}}, {"user": {"id": [1]}}],
    )
    async def test_a_token_without_a_usable_user_id_is_refused(self, data: dict[str, Any]) -> None:
        claims = {**tmeister_claims(), "data": data}
        with pytest.raises(AuthError) as caught:
            await Authenticator(_wordpress()).owner(_bearer(jwt.encode(claims, WP_SECRET)))
        assert caught.value.code == "invalid_token"

    async def test_another_sites_token_is_refused(self) -> None:
        claims = {**tmeister_claims(), "iss": "https://other-shop.example"}
        with pytest.raises(AuthError) as caught:
            await Authenticator(_wordpress()).owner(_bearer(jwt.encode(claims, WP_SECRET)))
        assert caught.value.code == "invalid_token"

    async def test_with_an_audience_set_a_token_without_aud_is_refused(self) -> None:
        authenticator = Authenticator(_wordpress(jwt_audience="cartsync"))
        with pytest.raises(AuthError):
            await authenticator.owner(_bearer(jwt.encode(tmeister_claims(), WP_SECRET)))

    async def test_a_namespaced_claim_is_read_whole_before_a_dotted_path(self) -> None:
        claim = "https://shop.example/customer_id"
        settings = _wordpress(jwt_subject_claim=claim)
        claims = {**tmeister_claims(), claim: 7}
        owner = await Authenticator(settings).owner(_bearer(jwt.encode(claims, WP_SECRET)))
        assert owner.subject == "7"


class TestLeeway:
    @pytest.mark.parametrize(
        ("expired_ago", "leeway", "passes"),
        [(10, 30.0, True), (60, 30.0, False), (10, 0.0, False)],
    )
    async def test_a_token_just_expired_passes_within_the_leeway(
        self, expired_ago: int, leeway: float, passes: bool
    ) -> None:
        claims = usefulteam_claims(expires_in=-expired_ago)
        claims["iat"] = claims["nbf"] = claims["exp"] - 600
        authenticator = Authenticator(_wordpress(jwt_leeway_s=leeway))
        token = _bearer(jwt.encode(claims, WP_SECRET))
        if passes:
            assert (await authenticator.owner(token)).subject == "42"
            assert authenticator.cached_owner(token.encode()) is not None
        else:
            with pytest.raises(AuthError) as caught:
                await authenticator.owner(token)
            assert caught.value.code == "token_expired"

    async def test_a_token_issued_a_little_in_the_future_passes(self) -> None:
        claims = usefulteam_claims()
        claims["iat"] = claims["nbf"] = int(time.time()) + 10  # the shop's clock runs ahead
        owner = await Authenticator(_wordpress()).owner(_bearer(jwt.encode(claims, WP_SECRET)))
        assert owner.subject == "42"


class TestJwks:
    async def test_identity_provider_tokens_verify_with_rs256_and_es256_keys(
        self, jwks: JwksServer
    ) -> None:
        rsa_key, ec_key = jwks.keys
        authenticator = _idp(jwks.url)
        await authenticator.start()
        auth0 = rsa_key.sign(auth0_claims(IDP, API, "auth0|65f0c1"))
        keycloak = ec_key.sign(keycloak_claims(IDP, API, "5b1f0e34-7d2c-4c9b-9a61-0c1c2f"))
        assert (await authenticator.owner(_bearer(auth0))).subject == "auth0|65f0c1"
        assert (await authenticator.owner(_bearer(keycloak))).subject.startswith("5b1f0e34")
        assert jwks.fetches == 1
        await authenticator.aclose()

    async def test_a_new_kid_is_fetched_once_then_served_from_the_cache(
        self, jwks: JwksServer
    ) -> None:
        clock = Clock()
        authenticator = _idp(jwks.url, clock)
        old = jwks.keys[0]
        assert (await authenticator.owner(_bearer(old.sign(auth0_claims(IDP, API, "a"))))).subject
        assert jwks.fetches == 1
        rotated = SigningKey.rsa("2025-rsa")
        jwks.keys.append(rotated)
        clock.now += 31  # past the minimum interval since the first fetch
        for n in range(5):
            token = rotated.sign(auth0_claims(IDP, API, f"user-{n}"))
            assert (await authenticator.owner(_bearer(token))).subject == f"user-{n}"
        assert jwks.fetches == 2
        # The old key still verifies, without a fetch.
        await authenticator.owner(_bearer(old.sign(auth0_claims(IDP, API, "b"))))
        assert jwks.fetches == 2

    async def test_an_unpublished_kid_is_refused_and_a_flood_costs_one_fetch(
        self, jwks: JwksServer
    ) -> None:
        clock = Clock()
        authenticator = _idp(jwks.url, clock)
        await authenticator.start()
        assert jwks.fetches == 1
        forger = SigningKey.rsa()
        clock.now += 31

        async def attempt() -> str:
            token = forger.sign(auth0_claims(IDP, API, "x"), kid=secrets.token_hex(8))
            try:
                await authenticator.owner(_bearer(token))
            except AuthError as exc:
                return exc.code
            return "accepted"

        concurrent = await asyncio.gather(*(attempt() for _ in range(50)))
        one_by_one = [await attempt() for _ in range(50)]
        assert set(concurrent) | set(one_by_one) == {"invalid_token"}
        assert jwks.fetches == 2  # one refresh for 100 unknown kids
        clock.now += 31
        assert await attempt() == "invalid_token"
        assert jwks.fetches == 3  # and one more per interval, however many arrive

    async def test_a_token_cannot_pick_hs256_with_the_published_key(self, jwks: JwksServer) -> None:
        """The algorithm comes from the key, not the token: HMAC with the public key as
        the secret (the classic confusion) is refused."""
        authenticator = _idp(jwks.url)
        rsa_key = jwks.keys[0]
        header = {"alg": "HS256", "typ": "JWT", "kid": rsa_key.kid}
        segments = [
            jwt.utils.base64url_encode(json.dumps(part).encode())
            for part in (header, auth0_claims(IDP, API, "mallory"))
        ]
        signing_input = b".".join(segments)
        secret = json.dumps(rsa_key.jwk()).encode()
        mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
        forged = (signing_input + b"." + jwt.utils.base64url_encode(mac)).decode()
        with pytest.raises(AuthError) as caught:
            await authenticator.owner(_bearer(forged))
        assert caught.value.code == "invalid_token"

    async def test_wrong_audience_and_missing_kid_are_refused(self, jwks: JwksServer) -> None:
        authenticator = _idp(jwks.url)
        key = jwks.keys[0]
        for token in (
            key.sign(auth0_claims(IDP, "https://another-api.example", "a")),
            jwt.encode(auth0_claims(IDP, API, "a"), key.private, algorithm="RS256"),
        ):
            with pytest.raises(AuthError) as caught:
                await authenticator.owner(_bearer(token))
            assert caught.value.code == "invalid_token"

    async def test_the_fetch_runs_off_the_event_loop(self, jwks: JwksServer) -> None:
        jwks.hold = True
        authenticator = _idp(jwks.url)
        token = jwks.keys[0].sign(auth0_claims(IDP, API, "patient"))
        pending = asyncio.create_task(authenticator.owner(_bearer(token)))
        # The server now holds the fetch: the loop must go on running meanwhile.
        assert await asyncio.wait_for(asyncio.to_thread(jwks.seen.wait, 5), 6)
        assert not pending.done()
        jwks.release.set()
        assert (await asyncio.wait_for(pending, 5)).subject == "patient"

    async def test_keys_outlive_an_outage_and_an_unknown_kid_then_is_unavailable(
        self, jwks: JwksServer
    ) -> None:
        clock = Clock()
        authenticator = _idp(jwks.url, clock)
        await authenticator.start()
        jwks.failing = True
        clock.now += 301  # the set is old: a background refresh is due, and fails
        known = jwks.keys[0].sign(auth0_claims(IDP, API, "steady"))
        assert (await authenticator.owner(_bearer(known))).subject == "steady"
        await asyncio.wait_for(asyncio.to_thread(jwks.seen.wait, 5), 6)
        fresh = jwks.keys[0].sign(auth0_claims(IDP, API, "again"))
        for _ in range(20):  # the failed refresh keeps the keys: no log-out in an outage
            assert (await authenticator.owner(_bearer(fresh))).subject == "again"
        unknown = SigningKey.rsa("not-yet").sign(auth0_claims(IDP, API, "new"))
        with pytest.raises(Unavailable) as caught:
            await authenticator.owner(_bearer(unknown))
        assert caught.value.code == "identity_unavailable"
        assert caught.value.retry_after is not None
        assert 0 < caught.value.retry_after <= 30
        assert jwks.fetches == 2  # the start and the one failed refresh, nothing more

    async def test_an_unreachable_key_set_is_unavailable_not_invalid(self) -> None:
        server = JwksServer().start()
        url = server.url
        server.stop()  # nothing listens there any more
        authenticator = _idp(url)
        await authenticator.start()  # logged, not raised
        token = SigningKey.rsa("k").sign(auth0_claims(IDP, API, "a"))
        with pytest.raises(Unavailable) as caught:
            await authenticator.owner(_bearer(token))
        assert caught.value.code == "identity_unavailable"
