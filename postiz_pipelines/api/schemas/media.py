"""Media items (uploads are multipart; see ``routes/media.py``)."""

from __future__ import annotations

from postiz_pipelines.api.schemas.base import Id, Out
from postiz_pipelines.core.models import MediaAsset


class MediaOut(Out):
    id: Id
    workspace_id: Id
    kind: str
    mime_type: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    duration_ms: int | None
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    bit_rate: int | None = None
    animated: bool = False
    original_filename: str
    alt_text: str
    created_at: str
    deduplicated: bool = False

    @classmethod
    def of(cls, m: MediaAsset, deduplicated: bool = False) -> MediaOut:
        return cls(
            id=m.id,
            workspace_id=m.workspace_id,
            kind=m.kind,
            mime_type=m.mime_type,
            size_bytes=m.size_bytes,
            sha256=m.sha256,
            width=m.width,
            height=m.height,
            duration_ms=m.duration_ms,
            frame_rate=m.frame_rate,
            video_codec=m.video_codec,
            audio_codec=m.audio_codec,
            bit_rate=m.bit_rate,
            animated=bool(m.animated),
            original_filename=m.original_filename,
            alt_text=m.alt_text,
            created_at=m.created_at.isoformat(),
            deduplicated=deduplicated,
        )


class MediaList(Out):
    media: list[MediaOut]
    next_cursor: str | None
