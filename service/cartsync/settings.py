"""Settings: one frozen object built once from ``CARTSYNC_*`` environment variables.

Every setting is documented in the README's configuration table. Invalid values are
rejected at start with the variable's name, never discovered at the first request.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlparse

import msgspec

PREFIX = "CARTSYNC_"


class SettingsError(ValueError):
    """A configuration problem; the message names the environment variable."""


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Everything configurable, with safe defaults where one exists."""

    upstream_url: str
    upstream_kind: Literal["storeapi", "cocart"] = "storeapi"
    redis_url: str | None = None
    redis_cluster: bool = False
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str
    jwt_audience: str | None = None
    jwt_subject_claim: str = "sub"
    jwt_leeway_s: float = 30.0
    guest_secret: str
    guest_token_ttl_s: int = 30 * 24 * 3600
    snapshot_freshness_s: float = 30.0
    products_ttl_s: float = 60.0
    upstream_connect_timeout_s: float = 3.0
    upstream_read_timeout_s: float = 15.0
    upstream_read_retries: int = 2
    upstream_max_connections: int = 100
    lock_ttl_s: float = 30.0
    lock_wait_s: float = 20.0
    write_timeout_s: float = 30.0
    reconcile_grace_s: float = 30.0
    linger_ms: float = 0.0
    idempotency_ttl_s: int = 24 * 3600
    max_ops_per_request: int = 100
    sse_heartbeat_s: float = 15.0
    merge_policy: Literal["sum", "max", "replace"] = "sum"
    cart_ttl_days: float = 30.0
    guest_cart_ttl_days: float = 7.0
    handoff_ttl_s: int = 300
    checkout_path: str = "/checkout/"
    public_url: str | None = None
    long_poll_max_s: float = 30.0
    max_body_bytes: int = 64 * 1024
    rate_limit_per_minute: int = 600
    write_rate_limit_per_minute: int = 120
    trusted_proxies: str = ""
    metrics_port: int | None = None
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    demo_page: bool = False  # /demo/: hands out user tokens; ``cartsync demo`` only
    environment: str = "production"

    @property
    def jwt_algorithm(self) -> str:
        """The algorithm of a static key: HS256 for the secret, RS256 or ES256 by the
        public key's type (tokens of a JWKS URL are verified by each key's own)."""
        if self.jwt_public_key:
            return _public_key_algorithm(self.jwt_public_key)
        return "HS256"

    @property
    def jwt_key(self) -> str:
        return self.jwt_public_key or self.jwt_secret or ""

    @property
    def trusted_proxy_list(self) -> list[str]:
        """The proxies whose ``X-Forwarded-For`` names the client (empty: none)."""
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    @property
    def embedded_state(self) -> bool:
        return self.redis_url is None


_REQUIRED = ("upstream_url", "jwt_issuer", "guest_secret")
_JWT_KEYS = ("CARTSYNC_JWT_SECRET", "CARTSYNC_JWT_PUBLIC_KEY", "CARTSYNC_JWT_JWKS_URL")
# A claim name, or a dotted path into nested claims (``data.user.id``); an IdP's
# namespaced claim (``https://shop.example/customer_id``) is looked up whole first.
_CLAIM_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def _public_key_algorithm(pem: str) -> str:
    """RS256 for an RSA key, ES256 for a P-256 key; a SettingsError for anything else."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise SettingsError("CARTSYNC_JWT_PUBLIC_KEY must be a PEM public key") from exc
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise SettingsError("CARTSYNC_JWT_PUBLIC_KEY must be an RSA (RS256) or P-256 (ES256) key")


def _env_name(field: str) -> str:
    return PREFIX + field.upper()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the environment (or ``environ``), validating every value."""
    env = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    for field in Settings.__struct_fields__:
        value = env.get(_env_name(field))
        if value is not None and value.strip() != "":
            raw[field] = value.strip() if field != "jwt_public_key" else value
    for field in _REQUIRED:
        if field not in raw:
            raise SettingsError(f"{_env_name(field)} is required")
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(exc)) from exc
    _check(settings)
    return settings


def _explain(exc: msgspec.ValidationError) -> str:
    message = str(exc)
    marker = "at `$."
    if marker in message:
        field = message.split(marker, 1)[1].rstrip("`")
        return f"{_env_name(field)}: {message.split(' - at', 1)[0]}"
    return message


def _check(settings: Settings) -> None:
    url = urlparse(settings.upstream_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise SettingsError(
            "CARTSYNC_UPSTREAM_URL must be an http(s) URL such as https://shop.example"
        )
    if "/wp-json" in url.path or "rest_route" in url.query:
        raise SettingsError(
            "CARTSYNC_UPSTREAM_URL is the shop's base URL: the API's path (/wp-json/...) "
            "is appended"
        )
    if settings.redis_url is not None and urlparse(settings.redis_url).scheme not in (
        "redis",
        "rediss",
        "unix",
        "redis+sentinel",
    ):
        raise SettingsError(
            "CARTSYNC_REDIS_URL must be a redis://, rediss://, unix:// or redis+sentinel:// URL"
        )
    if settings.redis_url is not None and settings.redis_url.startswith("redis+sentinel://"):
        from .redis_url import parse_sentinel_url

        try:
            parse_sentinel_url(settings.redis_url)
        except ValueError as exc:
            raise SettingsError(f"CARTSYNC_REDIS_URL: {exc}") from exc
    if settings.redis_cluster and (
        settings.redis_url is None
        or urlparse(settings.redis_url).scheme in ("unix", "redis+sentinel")
    ):
        raise SettingsError(
            "CARTSYNC_REDIS_CLUSTER needs a redis:// or rediss:// CARTSYNC_REDIS_URL"
        )
    _check_user_tokens(settings)
    _check_proxies(settings)
    if len(settings.guest_secret) < 32:
        raise SettingsError("CARTSYNC_GUEST_SECRET must be at least 32 characters")
    positive = (
        "snapshot_freshness_s",
        "products_ttl_s",
        "upstream_connect_timeout_s",
        "upstream_read_timeout_s",
        "lock_ttl_s",
        "lock_wait_s",
        "max_body_bytes",
        "rate_limit_per_minute",
        "write_rate_limit_per_minute",
        "guest_token_ttl_s",
        "upstream_max_connections",
        "write_timeout_s",
        "reconcile_grace_s",
        "idempotency_ttl_s",
        "max_ops_per_request",
        "sse_heartbeat_s",
        "cart_ttl_days",
        "guest_cart_ttl_days",
        "handoff_ttl_s",
        "long_poll_max_s",
    )
    for field in positive:
        if getattr(settings, field) <= 0:
            raise SettingsError(f"{_env_name(field)} must be greater than 0")
    if settings.linger_ms < 0 or settings.linger_ms > 1000:
        raise SettingsError("CARTSYNC_LINGER_MS must be between 0 and 1000")
    if settings.handoff_ttl_s > 300:
        raise SettingsError(
            "CARTSYNC_HANDOFF_TTL_S must be at most 300 (a checkout link carries the cart's secret)"
        )
    if not settings.checkout_path.startswith("/"):
        raise SettingsError("CARTSYNC_CHECKOUT_PATH must start with /")
    if settings.upstream_read_retries < 0:
        raise SettingsError("CARTSYNC_UPSTREAM_READ_RETRIES must not be negative")
    if settings.lock_ttl_s <= settings.upstream_read_timeout_s:
        raise SettingsError(
            "CARTSYNC_LOCK_TTL_S must be longer than CARTSYNC_UPSTREAM_READ_TIMEOUT_S, "
            "so a write cannot outlive the lock that serialises it"
        )
    if settings.metrics_port is not None and not 0 < settings.metrics_port < 65536:
        raise SettingsError("CARTSYNC_METRICS_PORT must be a TCP port (1 to 65535)")
    if settings.demo_page and (settings.jwt_secret is None or settings.jwt_subject_claim != "sub"):
        raise SettingsError(
            "CARTSYNC_DEMO_PAGE needs CARTSYNC_JWT_SECRET and CARTSYNC_JWT_SUBJECT_CLAIM=sub: "
            "the page signs its demo user's tokens itself"
        )


def _check_user_tokens(settings: Settings) -> None:
    """How the shop's user tokens are verified: exactly one key source, and its rules."""
    given = [
        name
        for name, value in zip(
            _JWT_KEYS,
            (settings.jwt_secret, settings.jwt_public_key, settings.jwt_jwks_url),
            strict=True,
        )
        if value
    ]
    if len(given) != 1:
        which = f" ({' and '.join(given)} are set)" if given else ""
        raise SettingsError(
            "set exactly one of CARTSYNC_JWT_SECRET, CARTSYNC_JWT_PUBLIC_KEY and "
            f"CARTSYNC_JWT_JWKS_URL{which}: how the shop's user tokens are verified"
        )
    if settings.jwt_secret is not None and len(settings.jwt_secret) < 32:
        raise SettingsError("CARTSYNC_JWT_SECRET must be at least 32 characters")
    if settings.jwt_public_key is not None:
        _public_key_algorithm(settings.jwt_public_key)
    if settings.jwt_jwks_url is not None:
        url = urlparse(settings.jwt_jwks_url)
        loopback = (url.hostname or "") in _LOOPBACK_HOSTS
        if not url.netloc or not (url.scheme == "https" or (url.scheme == "http" and loopback)):
            raise SettingsError(
                "CARTSYNC_JWT_JWKS_URL must be an https:// URL (keys over plain http could be "
                "swapped on the way; http:// only on loopback)"
            )
        if not settings.jwt_audience:
            raise SettingsError(
                "CARTSYNC_JWT_AUDIENCE is required with CARTSYNC_JWT_JWKS_URL: an identity "
                "provider signs the tokens of every app of the tenant with the same keys"
            )
    if not _CLAIM_PATH.match(settings.jwt_subject_claim):
        raise SettingsError(
            "CARTSYNC_JWT_SUBJECT_CLAIM must be a claim name or a dotted path such as data.user.id"
        )
    if not 0 <= settings.jwt_leeway_s <= 300:
        raise SettingsError("CARTSYNC_JWT_LEEWAY_S must be between 0 and 300 seconds")


def _check_proxies(settings: Settings) -> None:
    for entry in settings.trusted_proxy_list:
        try:
            ipaddress.ip_network(entry, strict=True)
        except ValueError as exc:
            raise SettingsError(
                f"CARTSYNC_TRUSTED_PROXIES: {entry!r} is not an IP address or a network in "
                "CIDR form (10.0.0.0/8; host bits must be zero); list the proxies themselves "
                "(a wildcard would let any client choose its own address)"
            ) from exc
