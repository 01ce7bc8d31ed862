"""The app's long-lived parts (settings, database, keyring) built once from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from postiz_pipelines.core.backoff import RetryPolicy
from postiz_pipelines.core.breaker import BreakerPolicy
from postiz_pipelines.core.crypto import Keyring
from postiz_pipelines.core.db import Database
from postiz_pipelines.core.engine import EngineConfig
from postiz_pipelines.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    db: Database
    keyring: Keyring

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        if settings.encryption_key is not None:
            keyring = Keyring.parse(settings.encryption_key.get_secret_value())
        else:
            keyring = Keyring.local(settings.data_dir.resolve() / "encryption.key")
        return cls(settings=settings, db=Database(settings.resolved_database_url), keyring=keyring)

    @property
    def media_root(self) -> Path:
        return self.settings.resolved_media_dir

    def engine_config(self) -> EngineConfig:
        s = self.settings
        return EngineConfig(
            concurrency=s.worker_concurrency,
            account_spacing_seconds=s.worker_rate_limit_delay / 1000,
            retry=RetryPolicy(max_retries=s.max_retries, base_seconds=s.retry_base_seconds),
            lease=timedelta(seconds=s.lease_seconds),
            breaker=BreakerPolicy(failure_threshold=s.breaker_threshold,
                                  cooldown_seconds=s.breaker_cooldown_seconds),
        )

    def close(self) -> None:
        self.db.dispose()
