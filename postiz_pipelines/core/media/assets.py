"""Media assets: an upload checked, measured, stored once per workspace, and recorded.

``ingest`` runs the steps in order, each its own function: ``check_upload`` (not empty,
an accepted format recognised by its bytes, a name that does not claim another format,
alt text within its limit), the per-workspace deduplication by SHA-256, ``measure``
(``probe``: pixel limit from the header, then a full decode; video streams and codecs
through PyAV), then ``store`` and ``record``. Every refusal happens before the first byte
reaches a storage backend, so a refused upload leaves nothing anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.media.formats import ACCEPTED, FileType, name_mismatch, sniff
from postiz_pipelines.core.media.probe import Measured, measure
from postiz_pipelines.core.media.storage import StagedFile, Storage
from postiz_pipelines.core.models import MediaAsset, Post, PostMedia, PostStatus
from postiz_pipelines.errors import Conflict, NotFound, Problem, ValidationFailed
from postiz_pipelines.providers.base import MediaFile

__all__ = ["ACCEPTED", "FileType", "ingest", "measure", "sniff"]
ALT_TEXT_LIMIT = 1500
DEFAULT_MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class Inspected:
    """An upload that passed every check: its type, measures, digest and size."""

    ftype: FileType
    measured: Measured
    sha256: str
    size: int

    def key(self, workspace_id: str) -> str:
        return Storage.key_for(workspace_id, self.sha256, self.ftype.ext)


def ingest(
    session: Session,
    storage: Storage,
    staged: StagedFile,
    *,
    workspace_id: str,
    filename: str = "",
    alt_text: str = "",
    now: datetime,
    actor: str = "system",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[MediaAsset, bool]:
    """Check, measure, store and record a staged upload; returns (asset, created).

    The same bytes uploaded twice to one workspace give the first asset back (created
    False) and the second copy is discarded. Raises ValidationFailed (field ``file`` or
    ``alt_text``, naming the limit) with nothing stored. The API runs the same steps with
    the slow ones (decoding, storing) outside its database transaction.
    """
    existing = find_by_hash(session, workspace_id, staged.finish())
    if existing is not None:
        check_upload(staged, filename=filename, alt_text=alt_text)
        staged.discard()
        return existing, False
    inspected = inspect_upload(staged, filename=filename, alt_text=alt_text, max_pixels=max_pixels)
    key = store_upload(storage, staged, inspected, workspace_id=workspace_id)
    try:
        return record_upload(
            session,
            inspected,
            storage=storage,
            workspace_id=workspace_id,
            filename=filename,
            alt_text=alt_text,
            now=now,
            actor=actor,
        )
    except BaseException:
        storage.delete(key)
        raise


def inspect_upload(
    staged: StagedFile, *, filename: str, alt_text: str, max_pixels: int
) -> Inspected:
    """Every check of an upload, its full decode and its measures (no database, no storage)."""
    sha = staged.finish()
    ftype = check_upload(staged, filename=filename, alt_text=alt_text)
    measured = measure(staged.path, ftype, max_pixels=max_pixels)
    return Inspected(ftype, measured, sha, staged.size)


def store_upload(
    storage: Storage, staged: StagedFile, inspected: Inspected, *, workspace_id: str
) -> str:
    """Stream the checked upload to the backend under its content key; returns the key."""
    key = inspected.key(workspace_id)
    storage.commit(staged, key, inspected.ftype.mime_type)
    return key


def record_upload(
    session: Session,
    inspected: Inspected,
    *,
    storage: Storage,
    workspace_id: str,
    filename: str,
    alt_text: str,
    now: datetime,
    actor: str,
) -> tuple[MediaAsset, bool]:
    """The asset row (and its audit row) of a stored upload; an existing asset with the
    same bytes in the workspace is returned instead (created False)."""
    existing = find_by_hash(session, workspace_id, inspected.sha256)
    if existing is not None:
        return existing, False
    asset = _row(workspace_id, inspected, filename, alt_text, now)
    try:
        with session.begin_nested():
            session.add(asset)
    except IntegrityError:
        # a concurrent upload of the same bytes won the unique index; its file is ours too
        existing = find_by_hash(session, workspace_id, inspected.sha256)
        if existing is None:
            raise
        return existing, False
    audit(
        session,
        actor=actor,
        action="media.upload",
        object_type="media",
        object_id=asset.id,
        workspace_id=workspace_id,
        now=now,
        sha256=inspected.sha256,
        size=inspected.size,
        mime=inspected.ftype.mime_type,
        backend=storage.name,
    )
    return asset, True


def check_upload(staged: StagedFile, *, filename: str, alt_text: str) -> FileType:
    """The upload's type, or ValidationFailed naming what is wrong and the limit."""
    if staged.size == 0:
        raise ValidationFailed(Problem("file", "is empty (0 bytes)", 0, 1))
    ftype = sniff(staged.head)
    if ftype is None:
        raise ValidationFailed(
            Problem(
                "file",
                f"is not an accepted media type (by its content); accepted: {ACCEPTED}",
                filename or None,
                ACCEPTED,
            )
        )
    suffix = name_mismatch(filename, ftype)
    if suffix is not None:
        raise ValidationFailed(
            Problem(
                "file",
                f"is named {suffix} but its content is {ftype.label}; send the right file "
                f"or name it {ftype.ext}",
                filename,
            )
        )
    if len(alt_text) > ALT_TEXT_LIMIT:
        raise ValidationFailed(
            Problem(
                "alt_text",
                f"is {len(alt_text)} characters, limit {ALT_TEXT_LIMIT}",
                len(alt_text),
                ALT_TEXT_LIMIT,
            )
        )
    return ftype


def _row(
    workspace_id: str, inspected: Inspected, filename: str, alt_text: str, now: datetime
) -> MediaAsset:
    m = inspected.measured
    return MediaAsset(
        id=new_id("med"),
        workspace_id=workspace_id,
        sha256=inspected.sha256,
        kind=inspected.ftype.kind,
        mime_type=inspected.ftype.mime_type,
        size_bytes=inspected.size,
        width=m.width,
        height=m.height,
        duration_ms=m.duration_ms,
        frame_rate=m.frame_rate,
        video_codec=m.video_codec,
        audio_codec=m.audio_codec,
        bit_rate=m.bit_rate,
        animated=m.animated,
        storage_key=inspected.key(workspace_id),
        original_filename=Path(filename).name[:300] if filename else "",
        alt_text=alt_text,
        created_at=now,
    )


def find_by_hash(session: Session, workspace_id: str, sha: str) -> MediaAsset | None:
    return session.scalar(
        select(MediaAsset).where(
            MediaAsset.workspace_id == workspace_id,
            MediaAsset.sha256 == sha,
            MediaAsset.deleted_at.is_(None),
        )
    )


def get_media(
    session: Session, media_id: str, *, workspace_ids: set[str] | None = None
) -> MediaAsset:
    """A live asset; outside ``workspace_ids`` it does not exist."""
    asset = session.get(MediaAsset, media_id)
    if (
        asset is None
        or asset.deleted_at is not None
        or (workspace_ids is not None and asset.workspace_id not in workspace_ids)
    ):
        raise NotFound("media", media_id)
    return asset


def list_media(
    session: Session, *, workspace_id: str, limit: int = 50, before_id: str | None = None
) -> list[MediaAsset]:
    """A workspace's live assets, newest first (keyset on created_at, id)."""
    q = (
        select(MediaAsset)
        .where(MediaAsset.workspace_id == workspace_id, MediaAsset.deleted_at.is_(None))
        .order_by(MediaAsset.created_at.desc(), MediaAsset.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        anchor = session.get(MediaAsset, before_id)
        if anchor is not None and anchor.workspace_id == workspace_id:
            q = q.where(
                (MediaAsset.created_at < anchor.created_at)
                | ((MediaAsset.created_at == anchor.created_at) & (MediaAsset.id < anchor.id))
            )
    return list(session.scalars(q))


def delete_media(
    session: Session, asset: MediaAsset, *, now: datetime, actor: str = "system"
) -> None:
    """Soft-delete an asset no unpublished post uses; the file stays for posts that used it."""
    used = session.scalar(
        select(PostMedia.post_id)
        .join(Post, Post.id == PostMedia.post_id)
        .where(
            PostMedia.media_id == asset.id,
            Post.deleted_at.is_(None),
            Post.status.in_([PostStatus.DRAFT, PostStatus.SCHEDULED, PostStatus.PUBLISHING]),
        )
        .limit(1)
    )
    if used is not None:
        raise Conflict(
            f"media {asset.id} is attached to unpublished post {used}; remove it from the post "
            f"first"
        )
    asset.deleted_at = now
    audit(
        session,
        actor=actor,
        action="media.delete",
        object_type="media",
        object_id=asset.id,
        workspace_id=asset.workspace_id,
        now=now,
    )


def media_file(asset: MediaAsset, media_root: Path) -> MediaFile:
    """The original as a ``MediaFile`` (what was uploaded, not a platform's variant)."""
    return MediaFile(
        path=media_root / asset.storage_key,
        mime_type=asset.mime_type,
        kind=asset.kind,
        size_bytes=asset.size_bytes,
        width=asset.width,
        height=asset.height,
        duration_ms=asset.duration_ms,
        alt_text=asset.alt_text or "",
        frame_rate=asset.frame_rate,
        video_codec=asset.video_codec,
        audio_codec=asset.audio_codec,
        bit_rate=asset.bit_rate,
        animated=bool(asset.animated),
    )
