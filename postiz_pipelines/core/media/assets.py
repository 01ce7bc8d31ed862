"""Media assets: recognising a file by its bytes, measuring it, storing it once per workspace.

The declared content type and file name are never trusted: the type comes from the first
bytes (JPEG, PNG, GIF, WebP, MP4, MOV, AVI; anything else is refused). Image dimensions
come from Pillow, which reads only the header. Video dimensions and duration are read from
the container headers (ISO BMFF ``mvhd``/``tkhd`` boxes, AVI ``avih``) when present; a
video whose headers cannot be read is still accepted, with unknown dimensions, because
the platforms re-check videos themselves.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.media.storage import LocalStorage, StagedFile
from postiz_pipelines.core.models import MediaAsset, Post, PostMedia, PostStatus
from postiz_pipelines.errors import Conflict, NotFound, Problem, ValidationFailed
from postiz_pipelines.providers.base import MediaFile

ACCEPTED = "JPEG, PNG, GIF, WebP, MP4, MOV, AVI"
QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


@dataclass(frozen=True)
class FileType:
    mime_type: str
    kind: str  # image | video
    ext: str


def sniff(head: bytes) -> FileType | None:
    """The file's type from its first bytes, or None for anything we do not accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return FileType("image/jpeg", "image", ".jpg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileType("image/png", "image", ".png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FileType("image/gif", "image", ".gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileType("image/webp", "image", ".webp")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return FileType("video/x-msvideo", "video", ".avi")
    if head[4:8] == b"ftyp":
        if head[8:12] == b"qt  ":
            return FileType("video/quicktime", "video", ".mov")
        return FileType("video/mp4", "video", ".mp4")
    if head[4:8] in QUICKTIME_ATOMS:
        return FileType("video/quicktime", "video", ".mov")
    return None


@dataclass(frozen=True)
class Measured:
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None


def measure(path: Path, ftype: FileType) -> Measured:
    """Dimensions (and duration for videos); ValidationFailed for an unreadable image."""
    if ftype.kind == "image":
        return _measure_image(path, ftype)
    try:
        with path.open("rb") as fh:
            if ftype.mime_type == "video/x-msvideo":
                return _measure_avi(fh.read(4096))
            return _measure_bmff(fh, path.stat().st_size)
    except (OSError, struct.error, ValueError):
        return Measured()


def _measure_image(path: Path, ftype: FileType) -> Measured:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height = img.size
            img.verify()  # checks structure without decoding every pixel
    except Image.DecompressionBombError:
        raise ValidationFailed(
            Problem(
                "file",
                f"image has too many pixels (limit {Image.MAX_IMAGE_PIXELS})",
                None,
                Image.MAX_IMAGE_PIXELS,
            )
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        name = ftype.mime_type.split("/")[1].upper()
        raise ValidationFailed(
            Problem("file", f"starts like a {name} image but cannot be read", ftype.mime_type)
        ) from None
    return Measured(width=width, height=height)


def _measure_avi(head: bytes) -> Measured:
    at = head.find(b"avih")
    if at < 0 or len(head) < at + 8 + 40:
        return Measured()
    data = head[at + 8 : at + 8 + 40]
    usec_per_frame, _, _, _, frames = struct.unpack_from("<5I", data, 0)
    width, height = struct.unpack_from("<2I", data, 32)
    duration = (usec_per_frame * frames) // 1000 if usec_per_frame and frames else None
    return Measured(width or None, height or None, duration)


def _boxes(fh: BinaryIO, start: int, end: int):  # type: ignore[no-untyped-def]
    """(type, payload offset, payload size) of the ISO BMFF boxes between start and end."""
    pos = start
    while pos + 8 <= end:
        fh.seek(pos)
        header = fh.read(8)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header)
        offset = 8
        if size == 1:
            size = struct.unpack(">Q", fh.read(8))[0]
            offset = 16
        elif size == 0:
            size = end - pos
        if size < offset:
            return
        yield kind, pos + offset, size - offset
        pos += size


def _measure_bmff(fh: BinaryIO, file_size: int) -> Measured:
    width = height = duration = None
    for kind, off, size in _boxes(fh, 0, file_size):
        if kind != b"moov":
            continue
        for sub, soff, ssize in _boxes(fh, off, off + size):
            if sub == b"mvhd":
                fh.seek(soff)
                version = fh.read(1)[0]
                fh.seek(soff + (20 if version == 1 else 12))
                if version == 1:
                    timescale, length = struct.unpack(">IQ", fh.read(12))
                else:
                    timescale, length = struct.unpack(">II", fh.read(8))
                if timescale:
                    duration = length * 1000 // timescale
            elif sub == b"trak" and width is None:
                for tk, toff, tsize in _boxes(fh, soff, soff + ssize):
                    if tk == b"tkhd" and tsize >= 84:
                        fh.seek(toff + tsize - 8)
                        w, h = struct.unpack(">II", fh.read(8))
                        if w and h:
                            width, height = w >> 16, h >> 16
        break
    return Measured(width, height, duration)


# -- assets ------------------------------------------------------------------------------
def ingest(
    session: Session,
    storage: LocalStorage,
    staged: StagedFile,
    *,
    workspace_id: str,
    filename: str = "",
    alt_text: str = "",
    now: datetime,
    actor: str = "system",
) -> tuple[MediaAsset, bool]:
    """Store a staged upload as a media asset; returns (asset, created).

    The same bytes uploaded twice to one workspace give the first asset back (created
    False) and the second copy is discarded.
    """
    sha = staged.finish()
    if staged.size == 0:
        raise ValidationFailed(Problem("file", "is empty", 0, 1))
    ftype = sniff(staged.head)
    if ftype is None:
        raise ValidationFailed(
            Problem(
                "file", f"is not an accepted media type; accepted: {ACCEPTED}", filename or None
            )
        )
    if len(alt_text) > 1500:
        raise ValidationFailed(
            Problem("alt_text", f"is {len(alt_text)} characters, limit 1500", len(alt_text), 1500)
        )
    existing = _by_hash(session, workspace_id, sha)
    if existing is not None:
        staged.discard()
        return existing, False
    measured = measure(staged.path, ftype)
    key = storage.key_for(workspace_id, sha, ftype.ext)
    storage.commit(staged, key)
    asset = MediaAsset(
        id=new_id("med"),
        workspace_id=workspace_id,
        sha256=sha,
        kind=ftype.kind,
        mime_type=ftype.mime_type,
        size_bytes=staged.size,
        width=measured.width,
        height=measured.height,
        duration_ms=measured.duration_ms,
        storage_key=key,
        original_filename=Path(filename).name[:300] if filename else "",
        alt_text=alt_text,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(asset)
    except IntegrityError:
        # a concurrent upload of the same bytes won the unique index; its file is ours too
        existing = _by_hash(session, workspace_id, sha)
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
        sha256=sha,
        size=staged.size,
        mime=ftype.mime_type,
    )
    return asset, True


def _by_hash(session: Session, workspace_id: str, sha: str) -> MediaAsset | None:
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
    return MediaFile(
        path=media_root / asset.storage_key,
        mime_type=asset.mime_type,
        kind=asset.kind,
        size_bytes=asset.size_bytes,
        width=asset.width,
        height=asset.height,
        duration_ms=asset.duration_ms,
        alt_text=asset.alt_text or "",
    )
