"""``GET /api/postiz/media/{id}/file{ext}``: a media file through an expiring signed link.

The links are made by the engine for platforms that fetch media themselves (Instagram,
Threads, Facebook video); they need no API token, only a valid, unexpired signature.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from postiz_pipelines.api.deps import State
from postiz_pipelines.core.media.links import verify
from postiz_pipelines.core.models import MediaAsset
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
        st.app.keyring, media_id=media_id, expires=expires, signature=signature, now=st.now()
    ):
        raise NotFound("media", media_id)

    def load() -> MediaAsset | None:
        with st.app.db.read() as s:
            return s.get(MediaAsset, media_id)

    asset = await run_in_threadpool(load)
    if asset is None or asset.deleted_at is not None:
        raise NotFound("media", media_id)
    return FileResponse(
        st.storage.path(asset.storage_key),
        media_type=asset.mime_type,
        headers={"Cache-Control": "private, max-age=300"},
    )
