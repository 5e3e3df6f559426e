"""Settings come from CARTSYNC_* once; a bad value stops the start and names the variable."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cartsync.settings import PREFIX, Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]

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
        jwks = {**BASE, "CARTSYNC_JWT_JWKS_URL": "https://id.example/.well-known/jwks.json"}
        with pytest.raises(SettingsError, match="CARTSYNC_JWT_SECRET and CARTSYNC_JWT_JWKS_URL"):
            load_settings(jwks)
        del jwks["CARTSYNC_JWT_SECRET"]
        with pytest.raises(SettingsError, match=r"exactly one of .*CARTSYNC_JWT_JWKS_URL"):
            load_settings({k: v for k, v in jwks.items() if k != "CARTSYNC_JWT_JWKS_URL"})
        assert load_settings(jwks).jwt_jwks_url == jwks["CARTSYNC_JWT_JWKS_URL"]


class TestIdentitySettings:
    JWKS: ClassVar[dict[str, str]] = {
        **{k: v for k, v in BASE.items() if k != "CARTSYNC_JWT_SECRET"},
        "CARTSYNC_JWT_JWKS_URL": "https://shop.eu.auth0.com/.well-known/jwks.json",
    }

    def test_the_defaults_are_sub_and_30_seconds_and_no_audience_for_a_secret(self) -> None:
        settings = load_settings({k: v for k, v in BASE.items() if k != "CARTSYNC_JWT_AUDIENCE"})
        assert (settings.jwt_subject_claim, settings.jwt_leeway_s) == ("sub", 30.0)
        assert settings.jwt_audience is None  # WordPress plugins' tokens carry no aud

    def test_a_jwks_url_needs_an_audience(self) -> None:
        env = {k: v for k, v in self.JWKS.items() if k != "CARTSYNC_JWT_AUDIENCE"}
        with pytest.raises(SettingsError, match="CARTSYNC_JWT_AUDIENCE is required"):
            load_settings(env)

    @pytest.mark.parametrize(
        "url",
        ["http://id.example/jwks.json", "ftp://id.example/jwks", "https://", "jwks.json"],
    )
    def test_a_jwks_url_must_be_https_except_on_loopback(self, url: str) -> None:
        with pytest.raises(SettingsError, match="CARTSYNC_JWT_JWKS_URL must be an https"):
            load_settings({**self.JWKS, "CARTSYNC_JWT_JWKS_URL": url})
        loopback = {**self.JWKS, "CARTSYNC_JWT_JWKS_URL": "http://127.0.0.1:9/jwks.json"}
        assert load_settings(loopback).jwt_jwks_url

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("CARTSYNC_JWT_SUBJECT_CLAIM", "data..id"),
            ("CARTSYNC_JWT_SUBJECT_CLAIM", ".sub"),
            ("CARTSYNC_JWT_SUBJECT_CLAIM", "data user"),
            ("CARTSYNC_JWT_LEEWAY_S", "-1"),
            ("CARTSYNC_JWT_LEEWAY_S", "301"),
            ("CARTSYNC_JWT_LEEWAY_S", "soon"),
        ],
    )
    def test_a_bad_subject_path_or_leeway_is_refused(self, name: str, value: str) -> None:
        with pytest.raises(SettingsError, match=name):
            load_settings({**BASE, name: value})

    def test_a_public_key_picks_its_algorithm_and_other_keys_are_refused(self) -> None:
        def pem(private: object) -> str:
            return (
                private.public_key()
                .public_bytes(  # type: ignore[attr-defined, no-any-return]
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                .decode()
            )

        env = {k: v for k, v in BASE.items() if k != "CARTSYNC_JWT_SECRET"}
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for private, algorithm in (
            (rsa_key, "RS256"),
            (ec.generate_private_key(ec.SECP256R1()), "ES256"),
        ):
            settings = load_settings({**env, "CARTSYNC_JWT_PUBLIC_KEY": pem(private)})
            assert settings.jwt_algorithm == algorithm
        with pytest.raises(SettingsError, match=r"RSA .* or P-256"):
            load_settings(
                {**env, "CARTSYNC_JWT_PUBLIC_KEY": pem(ec.generate_private_key(ec.SECP384R1()))}
            )


class TestProxyAndMetricsSettings:
    def test_trusted_proxies_are_addresses_or_networks(self) -> None:
        env = {**BASE, "CARTSYNC_TRUSTED_PROXIES": " 10.244.0.0/16, 172.30.0.10,fd00::/8 "}
        assert load_settings(env).trusted_proxy_list == ["10.244.0.0/16", "172.30.0.10", "fd00::/8"]
        assert load_settings(BASE).trusted_proxy_list == []  # none trusted by default

    @pytest.mark.parametrize("value", ["*", "nginx", "10.0.0.1/8", "10.0.0.0/33"])
    def test_a_wildcard_a_name_or_a_network_with_host_bits_is_refused(self, value: str) -> None:
        with pytest.raises(SettingsError, match="CARTSYNC_TRUSTED_PROXIES"):
            load_settings({**BASE, "CARTSYNC_TRUSTED_PROXIES": value})

    @pytest.mark.parametrize("value", ["0", "65536", "http"])
    def test_the_metrics_port_is_a_port(self, value: str) -> None:
        with pytest.raises(SettingsError, match="CARTSYNC_METRICS_PORT"):
            load_settings({**BASE, "CARTSYNC_METRICS_PORT": value})
        assert load_settings({**BASE, "CARTSYNC_METRICS_PORT": "9100"}).metrics_port == 9100


class TestDocumented:
    def test_every_setting_is_in_the_readme_configuration_table(self) -> None:
        readme = (ROOT / "README.md").read_text()
        table = readme[readme.index("## Configuration") : readme.index("## Operating")]
        documented = set(re.findall(r"`(CARTSYNC_[A-Z_]+)`", table))
        fields = {PREFIX + name.upper() for name in Settings.__struct_fields__}
        assert fields - {"CARTSYNC_ENVIRONMENT"} <= documented  # a label, read by nothing

    def test_every_setting_deploy_sets_exists(self) -> None:
        fields = {PREFIX + name.upper() for name in Settings.__struct_fields__}
        for path in [*(ROOT / "deploy").rglob("*.yaml"), ROOT / "deploy/local/stack.py"]:
            for name in re.findall(r"\b(CARTSYNC_[A-Z_]+[A-Z])\b", path.read_text()):
                assert name in fields | {"CARTSYNC_WORKERS"}, f"{path}: {name}"

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
