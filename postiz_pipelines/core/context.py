"""The app's long-lived parts (settings, database, keyring) built once from Settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from postiz_pipelines.clock import Clock
from postiz_pipelines.core.db import Database
from postiz_pipelines.crypto import Keyring
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

    def provider_set(self, http: httpx.AsyncClient, clock: Clock | None = None) -> ProviderSet:
        """Providers over ``http``, pointed at the sandbox when configured, with OAuth clients."""
        s = self.settings
        return ProviderSet(
            http, sandbox_url=s.sandbox_url, clock=clock, options=s.provider_options()
        )

    def close(self) -> None:
        self.db.dispose()
