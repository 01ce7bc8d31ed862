"""Settings: defaults from the seed, validation messages that name the variable, no secret leaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from postiz_pipelines.errors import ConfigError
from postiz_pipelines.settings import Settings


def test_seed_defaults():
    s = Settings.from_env({})
    assert (s.worker_concurrency, s.worker_poll_interval, s.worker_rate_limit_delay) == (
        3,
        5000,
        1000,
    )
    assert s.resolved_database_url == f"sqlite:///{(Path('.data') / 'postiz.db').resolve()}"
    assert s.max_retries == 3 and s.retry_base_seconds == 60


def test_values_are_read_and_cast():
    s = Settings.from_env(
        {
            "POSTIZ_WORKER_CONCURRENCY": "8",
            "POSTIZ_DATABASE_URL": "postgresql://h/db",
            "POSTIZ_SANDBOX_URL": "http://127.0.0.1:8787/",
        }
    )
    assert s.worker_concurrency == 8
    assert s.resolved_database_url == "postgresql://h/db"
    assert s.sandbox_url == "http://127.0.0.1:8787"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"POSTIZ_WORKER_CONCURRENCY": "lots"}, "POSTIZ_WORKER_CONCURRENCY='lots'"),
        (
            {"POSTIZ_WORKER_CONCURRENCY": "0"},
            "POSTIZ_WORKER_CONCURRENCY='0': Input should be greater than or equal to 1",
        ),
        ({"POSTIZ_WORKER_POLL_INTERVAL": "10"}, "POSTIZ_WORKER_POLL_INTERVAL"),
        (
            {"POSTIZ_DATABASE_URL": "mysql://x"},
            "POSTIZ_DATABASE_URL='mysql://x': Value error, must start with",
        ),
        (
            {"POSTIZ_DB_POOL_SIZE": "0"},
            "POSTIZ_DB_POOL_SIZE='0': Input should be greater than or equal to 1",
        ),
        ({"POSTIZ_DB_MAX_OVERFLOW": "-1"}, "POSTIZ_DB_MAX_OVERFLOW='-1'"),
    ],
)
def test_bad_values_name_the_variable(env, needle):
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert needle in str(err.value)


def test_secrets_never_shown():
    s = Settings.from_env({"POSTIZ_WORKER_API_KEY": "super-secret-worker-key"})
    assert "super-secret-worker-key" not in repr(s)
    assert (
        s.worker_api_key is not None
        and s.worker_api_key.get_secret_value() == "super-secret-worker-key"
    )
    with pytest.raises(ConfigError) as err:
        Settings.from_env(
            {
                "POSTIZ_WORKER_API_KEY": "super-secret-worker-key",
                "POSTIZ_BATCH_API_KEY": "x" * 0,
                "POSTIZ_WORKER_CONCURRENCY": "-1",
            }
        )
    assert "super-secret-worker-key" not in str(err.value)


def test_provider_options_carry_oauth_clients_and_the_linkedin_version():
    s = Settings.from_env(
        {
            "POSTIZ_LINKEDIN_API_VERSION": "202703",
            "POSTIZ_SLACK_CLIENT_ID": "cid",
            "POSTIZ_SLACK_CLIENT_SECRET": "slack-secret-value",
        }
    )
    opts = s.provider_options()
    assert opts["linkedin"] == {"api_version": "202703"}
    assert (
        opts["slack"]["client_id"] == "cid"
        and opts["slack"]["client_secret"] == "slack-secret-value"
    )
    assert "slack-secret-value" not in repr(opts)
    from postiz_pipelines.providers.registry import ProviderSet

    providers = ProviderSet(None, options=opts)  # type: ignore[arg-type]  # no calls made
    assert providers.get("linkedin").api_version == "202703"  # type: ignore[attr-defined]
    assert providers.get("slack").client_id == "cid"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="POSTIZ_LINKEDIN_API_VERSION"):
        Settings.from_env({"POSTIZ_LINKEDIN_API_VERSION": "March 2027"})
