"""The app's long-lived parts (settings, database, keyring) built once from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from postiz_pipelines.core.backoff import RetryPolicy
from postiz_pipelines.core.breaker import BreakerPolicy
from postiz_pipelines.core.clock import Clock
from postiz_pipelines.core.crypto import Keyring
from postiz_pipelines.core.db import Database
from postiz_pipelines.core.engine import EngineConfig
from postiz_pipelines.core.media_links import signed_url
from postiz_pipelines.providers.registry import ProviderSet
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

    def provider_set(self, http: httpx.AsyncClient, clock: Clock | None = None) -> ProviderSet:
        """Providers over ``http``, pointed at the sandbox when configured, with OAuth clients."""
        s = self.settings
        return ProviderSet(http, sandbox_url=s.sandbox_url, clock=clock, options=s.provider_options())

    def media_url(self, media_id: str, mime_type: str, now: datetime) -> str | None:
        """A signed public URL for a media file, when this deployment has a public URL."""
        s = self.settings
        if not s.public_url:
            return None
        return signed_url(self.keyring, base_url=s.public_url, media_id=media_id, mime_type=mime_type,
                          now=now, valid_for=timedelta(seconds=s.media_link_seconds))

    def close(self) -> None:
        self.db.dispose()
