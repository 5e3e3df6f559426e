"""Settings come from CARTSYNC_* once; a bad value stops the start and names the variable."""

from __future__ import annotations

import pytest

from cartsync.settings import SettingsError, load_settings

BASE = {
    "CARTSYNC_UPSTREAM_URL": "https://shop.example",
    "CARTSYNC_JWT_SECRET": "s" * 32,
    "CARTSYNC_JWT_ISSUER": "https://shop.example",
    "CARTSYNC_JWT_AUDIENCE": "cartsync",
    "CARTSYNC_GUEST_SECRET": "g" * 32,
}


class TestSettings:
    def test_a_complete_environment_gives_frozen_settings_with_defaults(self) -> None:
        settings = load_settings(BASE)
        assert settings.upstream_url == "https://shop.example"
        assert settings.redis_url is None
        assert settings.embedded_state
        assert settings.jwt_algorithm == "HS256"
        with pytest.raises(AttributeError):
            settings.upstream_url = "x"  # type: ignore[misc]

    @pytest.mark.parametrize(
        "missing",
        [
            "CARTSYNC_UPSTREAM_URL",
            "CARTSYNC_JWT_ISSUER",
            "CARTSYNC_JWT_AUDIENCE",
            "CARTSYNC_GUEST_SECRET",
        ],
    )
    def test_a_missing_required_variable_is_named(self, missing: str) -> None:
        env = {k: v for k, v in BASE.items() if k != missing}
        with pytest.raises(SettingsError, match=missing):
            load_settings(env)

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("CARTSYNC_SNAPSHOT_FRESHNESS_S", "soon"),
            ("CARTSYNC_SNAPSHOT_FRESHNESS_S", "-1"),
            ("CARTSYNC_UPSTREAM_URL", "shop.example"),
            ("CARTSYNC_UPSTREAM_URL", "https://shop.example/wp-json/wc/store/v1"),
            ("CARTSYNC_REDIS_URL", "http://localhost:6379"),
            ("CARTSYNC_UPSTREAM_KIND", "magento"),
            ("CARTSYNC_LOG_FORMAT", "xml"),
            ("CARTSYNC_JWT_SECRET", "short"),
            ("CARTSYNC_MAX_BODY_BYTES", "0"),
        ],
    )
    def test_an_invalid_value_is_refused_with_its_variable(self, name: str, value: str) -> None:
        with pytest.raises(SettingsError, match=name):
            load_settings({**BASE, name: value})

    def test_exactly_one_verification_key_is_required(self) -> None:
        with pytest.raises(SettingsError, match="CARTSYNC_JWT_PUBLIC_KEY"):
            load_settings({**BASE, "CARTSYNC_JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----"})

    def test_the_lock_must_outlive_an_upstream_call(self) -> None:
        with pytest.raises(SettingsError, match="CARTSYNC_LOCK_TTL_S"):
            load_settings(
                {**BASE, "CARTSYNC_LOCK_TTL_S": "5", "CARTSYNC_UPSTREAM_READ_TIMEOUT_S": "10"}
            )


class TestRedisTopologies:
    def test_a_sentinel_url_names_its_sentinels_master_database_and_password(self) -> None:
        from cartsync.redis_url import parse_sentinel_url

        url = "redis+sentinel://:p%40ss@10.0.0.1:26379,10.0.0.2:26380/shop/3"
        assert load_settings({**BASE, "CARTSYNC_REDIS_URL": url}).redis_url == url
        assert parse_sentinel_url(url) == (
            [("10.0.0.1", 26379), ("10.0.0.2", 26380)],
            "shop",
            3,
            "p@ss",
        )

    @pytest.mark.parametrize(
        ("url", "fault"),
        [
            ("redis+sentinel://10.0.0.1:26379", "no master"),
            ("redis+sentinel://10.0.0.1/shop", "host:port"),
            ("redis+sentinel://10.0.0.1:26379/shop/x", "not a number"),
        ],
    )
    def test_a_bad_sentinel_url_is_refused_at_start(self, url: str, fault: str) -> None:
        with pytest.raises(SettingsError, match=f"CARTSYNC_REDIS_URL: .*{fault}"):
            load_settings({**BASE, "CARTSYNC_REDIS_URL": url})

    def test_cluster_mode_needs_a_tcp_redis_url(self) -> None:
        with pytest.raises(SettingsError, match="CARTSYNC_REDIS_CLUSTER"):
            load_settings({**BASE, "CARTSYNC_REDIS_CLUSTER": "true"})
        settings = load_settings(
            {**BASE, "CARTSYNC_REDIS_URL": "redis://10.0.0.1:7000", "CARTSYNC_REDIS_CLUSTER": "1"}
        )
        assert settings.redis_cluster
