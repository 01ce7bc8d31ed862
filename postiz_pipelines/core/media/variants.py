"""Variants: each asset prepared once per (platform, limits) and reused by every later post.

``planned_file`` predicts, without touching a byte, what the variant of an asset will be
for a platform's limits (format, size, frame rate, codecs): post creation validates that
prediction, so a file that no preparation can bring within a limit (an aspect ratio, a
duration, a frame rate below the minimum) fails the post when it is created, naming the
limit. ``ensure_variant`` makes the variant (``images`` / ``video``), checks the result
against the same limits, stores it and records it in ``media_variants``, keyed by
(asset, platform, limits fingerprint); a second post, or a second run, finds it there.
The original is never changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from postiz_pipelines.core.db import Database
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.media.formats import EXTENSIONS
from postiz_pipelines.core.media.images import ImageTooStubborn, plan_image, render_image
from postiz_pipelines.core.media.storage import Storage
from postiz_pipelines.core.media.video import (
    TranscodeFailed,
    VideoSource,
    has_private_tags,
    plan_video,
    remux,
    transcode,
)
from postiz_pipelines.core.models import MediaAsset, MediaVariant
from postiz_pipelines.providers.base import MediaFile, MediaLimits, media_file_problems

PIPELINE_VERSION = "1"  # bump when preparation changes what it makes: variants are redone
READY = "ready"
FAILED = "failed"
# limits about a post's composition, not about one file: they do not change a variant
NOT_ABOUT_FILES = {
    "max_items",
    "max_videos",
    "allow_mixed",
    "requires_media",
    "requires_public_url",
    "fetches_by_url",
}


@dataclass(frozen=True)
class PrepareOptions:
    """Bounds of one preparation (from settings)."""

    transcode_seconds: float = 600.0
    threads: int = 2


def fingerprint(limits: MediaLimits) -> str:
    """A digest of the limits that shape a file (and of the preparation's version)."""
    data = {
        k: sorted(v) if isinstance(v, frozenset) else v
        for k, v in dataclasses.asdict(limits).items()
        if k not in NOT_ABOUT_FILES
    }
    data["pipeline"] = PIPELINE_VERSION
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def planned_file(asset: MediaAsset, limits: MediaLimits, media_root: Path) -> MediaFile:
    """What the variant of ``asset`` for ``limits`` will be (pure; nothing is encoded)."""
    original = _original(asset, media_root)
    if asset.kind == "image":
        if not (asset.width and asset.height):
            return original
        t = plan_image(
            mime_type=asset.mime_type,
            width=asset.width,
            height=asset.height,
            animated=bool(asset.animated),
            size_bytes=asset.size_bytes,
            limits=limits,
        )
        return replace(
            original,
            mime_type=t.mime_type,
            width=t.width,
            height=t.height,
            size_bytes=min(asset.size_bytes, t.max_bytes),
            animated=t.animated,
        )
    v = plan_video(_video_source(asset), limits)
    return replace(
        original,
        mime_type=v.mime_type,
        width=v.width,
        height=v.height,
        size_bytes=v.size_bytes,
        frame_rate=v.frame_rate,
        video_codec=v.video_codec,
        audio_codec=v.audio_codec,
        bit_rate=v.bit_rate,
    )


def find_variant(
    session: object, asset_id: str, platform: str, limits: MediaLimits
) -> MediaVariant | None:
    """The recorded variant, ready or failed, or None when it was never made."""
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    return session.scalar(
        select(MediaVariant).where(
            MediaVariant.asset_id == asset_id,
            MediaVariant.platform == platform,
            MediaVariant.limits_fingerprint == fingerprint(limits),
        )
    )


def ensure_variant(
    db: Database,
    storage: Storage,
    asset: MediaAsset,
    *,
    platform: str,
    limits: MediaLimits,
    now: datetime,
    options: PrepareOptions = PrepareOptions(),
) -> tuple[MediaVariant, bool]:
    """The asset's variant for ``limits``, made and recorded unless it exists; returns
    (variant, made). The work runs outside any transaction; two preparers racing for one
    variant both encode, and the first row written wins."""
    with db.read() as s:
        found = find_variant(s, asset.id, platform, limits)
        if found is not None:
            s.expunge(found)
            return found, False
    row = _make(storage, asset, platform=platform, limits=limits, now=now, options=options)
    try:
        with db.session() as s:
            s.add(row)
    except IntegrityError:
        with db.read() as s:
            found = find_variant(s, asset.id, platform, limits)
            assert found is not None
            s.expunge(found)
            return found, False
    return row, True


def _make(
    storage: Storage,
    asset: MediaAsset,
    *,
    platform: str,
    limits: MediaLimits,
    now: datetime,
    options: PrepareOptions,
) -> MediaVariant:
    fp = fingerprint(limits)
    row = MediaVariant(
        id=new_id("mvar"),
        asset_id=asset.id,
        platform=platform,
        limits_fingerprint=fp,
        status=READY,
        mime_type=asset.mime_type,
        kind=asset.kind,
        size_bytes=0,
        steps="",
        created_at=now,
    )
    src = storage.local_path(asset.storage_key)
    work_dir = storage.root / ".staging"
    work_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="variant-", dir=work_dir)
    os.close(fd)
    out = Path(name)
    try:
        made = _render(src, out, asset, limits, options)
    except (ImageTooStubborn, TranscodeFailed, OSError) as exc:
        out.unlink(missing_ok=True)
        return _failed(row, f"cannot be prepared for {platform}: {exc}")
    try:
        if made is None:  # the original is the variant
            row.storage_key = asset.storage_key
            row.sha256 = asset.sha256
            row.size_bytes = asset.size_bytes
            _copy_measures(row, asset)
            row.steps = "original"
        else:
            file, steps = made
            row.mime_type = file.mime_type
            row.size_bytes = out.stat().st_size
            row.width, row.height = file.width, file.height
            row.duration_ms = file.duration_ms
            row.frame_rate, row.bit_rate = file.frame_rate, file.bit_rate
            row.video_codec, row.audio_codec = file.video_codec, file.audio_codec
            row.sha256 = _sha256(out)
            row.steps = ",".join(steps)[:200]
        problems = media_file_problems(limits, variant_file(row, asset, src), f"{platform}.media")
        if problems:
            return _failed(row, "; ".join(p.message for p in problems))
        if made is not None:
            ext = EXTENSIONS.get(row.mime_type, "")
            row.storage_key = f"variants/{asset.workspace_id}/{asset.id}/{platform}-{fp[:16]}{ext}"
            storage.put_file(row.storage_key, out, row.mime_type)
            storage.remember(row.storage_key, out)  # publishing reads it from disk next
    finally:
        out.unlink(missing_ok=True)
    return row


def _render(
    src: Path, out: Path, asset: MediaAsset, limits: MediaLimits, options: PrepareOptions
) -> tuple[MediaFile, tuple[str, ...]] | None:
    """Encode the variant into ``out``; None when the original is sent as it is."""
    base = MediaFile(path=out, mime_type=asset.mime_type, kind=asset.kind, size_bytes=0)
    if asset.kind == "image":
        target = plan_image(
            mime_type=asset.mime_type,
            width=asset.width or 1,
            height=asset.height or 1,
            animated=bool(asset.animated),
            size_bytes=asset.size_bytes,
            limits=limits,
        )
        r = render_image(src, out, target, size_bytes=asset.size_bytes)
        if r.passthrough:
            return None
        return replace(base, mime_type=r.mime_type, width=r.width, height=r.height), r.steps
    from postiz_pipelines.core.media.formats import FileType
    from postiz_pipelines.core.media.probe import measure_video

    plan = plan_video(_video_source(asset), limits)
    if plan.action == "keep":
        if not has_private_tags(src):
            return None
        remux(src, out, plan.mime_type)
        steps: tuple[str, ...] = ("remux", "strip")
    else:
        transcode(src, out, plan, time_limit=options.transcode_seconds, threads=options.threads)
        steps = ("transcode", *plan.reasons)
    m = measure_video(out, FileType(plan.mime_type, "video", ".mp4"), max_pixels=2**40)
    file = replace(
        base,
        mime_type=plan.mime_type,
        width=m.width,
        height=m.height,
        duration_ms=m.duration_ms,
        frame_rate=m.frame_rate,
        video_codec=m.video_codec,
        audio_codec=m.audio_codec,
        bit_rate=m.bit_rate,
    )
    return file, steps


def _failed(row: MediaVariant, error: str) -> MediaVariant:
    row.status = FAILED
    row.error = error[:2000]
    row.storage_key = None
    return row


def _copy_measures(row: MediaVariant, asset: MediaAsset) -> None:
    row.mime_type, row.kind = asset.mime_type, asset.kind
    row.width, row.height, row.duration_ms = asset.width, asset.height, asset.duration_ms
    row.frame_rate, row.bit_rate = asset.frame_rate, asset.bit_rate
    row.video_codec, row.audio_codec = asset.video_codec, asset.audio_codec


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            h.update(chunk)
    return h.hexdigest()


def variant_file(
    variant: MediaVariant, asset: MediaAsset, path: Path, public_url: str | None = None
) -> MediaFile:
    """The variant as the ``MediaFile`` a provider uploads (the asset's alt text)."""
    return MediaFile(
        path=path,
        mime_type=variant.mime_type,
        kind=variant.kind,
        size_bytes=variant.size_bytes,
        width=variant.width,
        height=variant.height,
        duration_ms=variant.duration_ms,
        alt_text=asset.alt_text or "",
        public_url=public_url,
        frame_rate=variant.frame_rate,
        video_codec=variant.video_codec,
        audio_codec=variant.audio_codec,
        bit_rate=variant.bit_rate,
        animated=bool(asset.animated) and variant.mime_type in ("image/gif", "image/webp"),
    )


def _original(asset: MediaAsset, media_root: Path) -> MediaFile:
    from postiz_pipelines.core.media.assets import media_file

    return media_file(asset, media_root)


def _video_source(asset: MediaAsset) -> VideoSource:
    return VideoSource(
        mime_type=asset.mime_type,
        width=asset.width,
        height=asset.height,
        duration_ms=asset.duration_ms,
        frame_rate=asset.frame_rate,
        video_codec=asset.video_codec,
        audio_codec=asset.audio_codec,
        bit_rate=asset.bit_rate,
        size_bytes=asset.size_bytes,
    )
