from __future__ import annotations

import pytest

from controlplane.main import create_app
from controlplane.settings import DEFAULT_SECRET, InsecureSettingsError, Settings


def make(**env: object) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[arg-type]


def test_no_configuration_means_embedded(tmp_path):
    s = make(DATA_DIR=tmp_path)
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'watchparty.db'}"
    assert s.REDIS_URL is None and s.ROOM_RUNTIME == "local"
    assert s.mode == "database=sqlite bus=in-process runtime=local"


def test_urls_switch_backends():
    s = make(DATABASE_URL="postgresql+asyncpg://u:p@db/wp", REDIS_URL="redis://r:6379/0")
    assert not s.is_sqlite
    assert s.mode == "database=postgresql bus=redis runtime=local"


def test_a_redis_cluster_needs_a_plain_redis_for_celery():
    with pytest.raises(ValueError, match="CELERY_BROKER_URL"):
        make(REDIS_URL="redis://node-1:6379/0", REDIS_CLUSTER=True)
    s = make(REDIS_URL="redis://node-1:6379/0", REDIS_CLUSTER=True, CELERY_BROKER_URL="redis://q/0")
    assert s.celery_broker_url == "redis://q/0"
    assert s.mode == "database=sqlite bus=redis-cluster runtime=local"
    assert make(REDIS_URL="redis://r:6379/0").celery_broker_url == "redis://r:6379/0"


def test_production_refuses_default_secrets_and_says_which():
    s = make(ENVIRONMENT="production", ROOM_RUNTIME="docker", AGENT_SECRET_KEY="a" * 40)
    with pytest.raises(InsecureSettingsError, match="SECRET_KEY is the default") as err:
        s.check_production()
    assert "AGENT_SECRET_KEY" not in str(err.value)
    # The key of saved browser profiles is a secret like the others (default: refused).
    assert "PROFILE_SECRET_KEY is the default" in str(err.value)
    with pytest.raises(InsecureSettingsError):
        create_app(s)


def test_production_refuses_local_rooms_without_override():
    # (production also needs SMTP: reset links have nowhere else to go)
    secrets = {
        "SECRET_KEY": "s" * 40,
        "AGENT_SECRET_KEY": "a" * 40,
        "PROFILE_SECRET_KEY": "p" * 40,
        "SMTP_HOST": "mail",
    }
    with pytest.raises(InsecureSettingsError, match="ROOM_RUNTIME=local"):
        make(ENVIRONMENT="production", **secrets).check_production()
    make(
        ENVIRONMENT="production", ALLOW_LOCAL_RUNTIME_IN_PRODUCTION=True, **secrets
    ).check_production()


def test_development_allows_defaults():
    make(SECRET_KEY=DEFAULT_SECRET).check_production()


def test_cors_origins_from_comma_list(monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    assert make().CORS_ORIGINS == ["https://a.example", "https://b.example"]


def test_cors_origins_from_json_list(monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", '["https://a.example"]')
    assert make().CORS_ORIGINS == ["https://a.example"]


@pytest.mark.parametrize(
    "raw",
    ["172.16.0.0/12,192.168.0.0/16, fc00::/7", '["172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]'],
)
def test_trusted_proxy_cidrs_from_a_list(monkeypatch, raw):
    """As Compose and the chart pass them (issue 19 #12)."""
    monkeypatch.setenv("TRUSTED_PROXY_CIDRS", raw)
    got = Settings(_env_file=None).TRUSTED_PROXY_CIDRS  # type: ignore[call-arg]
    assert [str(n) for n in got] == ["172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]


def test_trusted_proxies_default_to_loopback_and_refuse_a_host_address(monkeypatch):
    assert [str(n) for n in Settings(_env_file=None).TRUSTED_PROXY_CIDRS] == [  # type: ignore[call-arg]
        "127.0.0.0/8",
        "::1/128",
    ]
    monkeypatch.setenv("TRUSTED_PROXY_CIDRS", "10.0.0.7/8")
    with pytest.raises(ValueError):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "url",
    ["https://a.example, https://b.example", "ftp://watch.example", "https://u:p@watch.example"],
)
def test_public_url_must_be_one_http_origin(url):
    # PUBLIC_URL names the WebSocket origin in the web app's CSP: a list would widen it.
    with pytest.raises(ValueError, match="PUBLIC_URL"):
        Settings(_env_file=None, PUBLIC_URL=url)  # type: ignore[call-arg]


def test_trusted_proxies_written_ipv4_mapped_are_refused():
    # Peers are compared unmapped: a mapped range would silently never match.
    with pytest.raises(ValueError, match="plain IPv4"):
        Settings(_env_file=None, TRUSTED_PROXY_CIDRS="::ffff:10.0.0.0/104")  # type: ignore[call-arg]
