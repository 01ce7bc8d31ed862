"""``GET /api/postiz/media/{id}/file{ext}``: a media file through an expiring signed link.

The links are made by the engine for platforms that fetch media themselves (Instagram,
Threads, Facebook video); they need no API token, only a valid, unexpired signature. The
id is an asset's or, for what platforms receive, one of its prepared variants' (``mvar_``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from postiz_pipelines.api.deps import State
from postiz_pipelines.core.media.links import verify
from postiz_pipelines.core.models import MediaAsset, MediaVariant
from postiz_pipelines.errors import NotFound

router = APIRouter(prefix="/api/postiz/media", tags=["media"])


@router.get(
    "/{media_id}/file{ext}",
    response_class=FileResponse,
    summary="A media file, through an expiring signed link (no API token)",
)
async def media_file(
    media_id: str,
    ext: str,
    st: State,
    expires: Annotated[int, Query(ge=0, le=2**40)],
    signature: Annotated[str, Query(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")],
) -> FileResponse:
    # a bad, expired or forged link is indistinguishable from a missing file
    if not verify(
        st.app.media_link_key, media_id=media_id, expires=expires, signature=signature, now=st.now()
    ):
        raise NotFound("media", media_id)

    def load() -> tuple[str, str] | None:
        """(storage key, mime type) of a live asset or of one of its variants."""
        with st.app.db.read() as s:
            if media_id.startswith("mvar_"):
                variant = s.get(MediaVariant, media_id)
                if variant is None or variant.storage_key is None:
                    return None
                owner = s.get(MediaAsset, variant.asset_id)
                if owner is None or owner.deleted_at is not None:
                    return None
                return variant.storage_key, variant.mime_type
            asset = s.get(MediaAsset, media_id)
            if asset is None or asset.deleted_at is not None:
                return None
            return asset.storage_key, asset.mime_type

    found = await run_in_threadpool(load)
    if found is None:
        raise NotFound("media", media_id)
    path = await run_in_threadpool(st.storage.local_path, found[0])
    return FileResponse(
        path,
        media_type=found[1],
        headers={"Cache-Control": "private, max-age=300"},
    )
