"""The app's long-lived parts (settings, database, keyring) built once from Settings."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
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
    _link_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        if settings.encryption_key is not None:
            keyring = Keyring.parse(settings.encryption_key.get_secret_value())
        else:
            keyring = Keyring.local(settings.data_dir.resolve() / "encryption.key")
        url = settings.resolved_database_url
        pool = (
            {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
            if url.startswith("postgresql")
            else {}
        )
        return cls(settings=settings, db=Database(url, **pool), keyring=keyring)

    @property
    def media_link_key(self) -> bytes:
        """The key media links are signed with: ``POSTIZ_MEDIA_LINK_KEY``, else a random key
        kept in ``<data dir>/media-link.key`` (created once, mode 0600). Never an encryption
        key, so ``keys rotate`` leaves published links valid."""
        if self._link_key is None:
            configured = self.settings.media_link_key
            if configured is not None:
                self._link_key = configured.get_secret_value().encode()
            else:
                self._link_key = _local_link_key(
                    self.settings.data_dir.resolve() / "media-link.key"
                )
        return self._link_key

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


def _local_link_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip().encode()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip().encode()
