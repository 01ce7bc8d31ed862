"""What publishing needs of media: every claimed post's variants made before the first
platform call, and, for each upload, the variant's file and (for platforms that fetch
media themselves) a link that expires.

The link is the storage backend's own signed URL (S3 presigned GET, Supabase signed
URL) when it has one, else the API's HMAC-signed link (``links``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.db import Database
from postiz_pipelines.core.media.storage import Storage
from postiz_pipelines.core.media.variants import (
    FAILED,
    PrepareOptions,
    ensure_variant,
    find_variant,
    variant_file,
)
from postiz_pipelines.core.models import MediaAsset
from postiz_pipelines.providers.base import MediaFile, MediaLimits

LinkMaker = Callable[[str, str, datetime], str | None]  # (variant id, mime, now) -> URL


@dataclass
class PrepareReport:
    """What one preparation pass did (Dagster op metadata, CLI output)."""

    made: int = 0
    reused: int = 0
    failed: list[str] = field(default_factory=list)  # "<asset> for <platform>: <reason>"

    def as_dict(self) -> dict[str, object]:
        return {"made": self.made, "reused": self.reused, "failed": len(self.failed)}


class NotPrepared(Exception):
    """The variant has not been made yet (its preparation did not run or did not finish)."""


class MediaDelivery:
    """Variants for the engine, over one database and one storage backend."""

    def __init__(
        self,
        db: Database,
        storage: Storage,
        *,
        link: LinkMaker | None = None,
        link_seconds: int = 24 * 3600,
        options: PrepareOptions = PrepareOptions(),
    ) -> None:
        self.db = db
        self.storage = storage
        self.link = link
        self.link_seconds = link_seconds
        self.options = options

    def prepare(
        self, items: Iterable[tuple[MediaAsset, str, MediaLimits]], *, now: datetime
    ) -> PrepareReport:
        """Make every missing variant of (asset, platform, limits); reuse the others."""
        report = PrepareReport()
        seen: set[tuple[str, str, MediaLimits]] = set()
        for asset, platform, limits in items:
            if (asset.id, platform, limits) in seen:
                continue
            seen.add((asset.id, platform, limits))
            variant, made = ensure_variant(
                self.db,
                self.storage,
                asset,
                platform=platform,
                limits=limits,
                now=now,
                options=self.options,
            )
            if variant.status == FAILED:
                report.failed.append(f"{asset.id} for {platform}: {variant.error}")
            elif made:
                report.made += 1
            else:
                report.reused += 1
            if variant.storage_key is not None:
                # fetched now, so that publishing (inside its transaction) only reads a file
                self.storage.local_path(variant.storage_key)
        return report

    def file_for(
        self,
        session: Session,
        asset: MediaAsset,
        *,
        platform: str,
        limits: MediaLimits,
        now: datetime,
    ) -> MediaFile:
        """The variant to upload; ValueError with the reason when it could not be made,
        NotPrepared when it was never made."""
        variant = find_variant(session, asset.id, platform, limits)
        if variant is None:
            raise NotPrepared(f"media {asset.id} has no {platform} variant yet")
        if variant.status == FAILED or variant.storage_key is None:
            raise ValueError(f"media {asset.id}: {variant.error}")
        path = self.storage.local_path(variant.storage_key)
        url = None
        if limits.requires_public_url or limits.fetches_by_url or asset.kind == "video":
            url = self.storage.signed_url(variant.storage_key, expires_in=self.link_seconds)
            if url is None and self.link is not None:
                url = self.link(variant.id, variant.mime_type, now)
        return variant_file(variant, asset, path, url)


def media_delivery(app: AppContext) -> MediaDelivery:
    """The deployment's delivery: its storage backend, its links, its preparation bounds."""
    from functools import partial

    from postiz_pipelines.core.media.backends import open_storage
    from postiz_pipelines.core.media.links import public_media_url

    s = app.settings
    return MediaDelivery(
        app.db,
        open_storage(s, app.media_root),
        link=partial(public_media_url, app),
        link_seconds=s.media_link_seconds,
        options=PrepareOptions(
            transcode_seconds=s.media_transcode_seconds, threads=s.media_transcode_threads
        ),
    )
