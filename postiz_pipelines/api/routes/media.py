"""``/api/postiz/media``: streamed upload (deduplicated per workspace), list, read, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from postiz_pipelines.api.deps import CallerDep, State, WriterDep
from postiz_pipelines.api.idempotency import IdempotentDep
from postiz_pipelines.api.routes.posts import resolve_workspace
from postiz_pipelines.api.schemas.media import MediaList, MediaOut
from postiz_pipelines.api.upload import read_upload
from postiz_pipelines.core.media import assets as media
from postiz_pipelines.core.media.storage import MAX_UPLOAD_BYTES
from postiz_pipelines.core.models import Role
from postiz_pipelines.errors import Problem, ValidationFailed

router = APIRouter(prefix="/api/postiz/media", tags=["media"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "JPEG, PNG, GIF, WebP, MP4, MOV or AVI (recognised by "
                            "content; the name must not claim another format); "
                            f"at most {MAX_UPLOAD_BYTES} bytes",
                        },
                        "workspace_id": {"type": "string", "maxLength": 64},
                        "alt_text": {"type": "string", "maxLength": 1500},
                    },
                }
            }
        },
    }
}


@router.post(
    "/upload",
    status_code=201,
    response_model=MediaOut,
    openapi_extra=UPLOAD_BODY,
    summary="Upload an image or video (multipart 'file' and 'workspace_id')",
)
async def upload(
    request: Request,
    st: State,
    caller: WriterDep,
    idem: IdempotentDep,
    workspace_id: Annotated[str | None, Query(max_length=64, description="or a form field")] = None,
) -> JSONResponse:
    if workspace_id is not None:  # refuse before receiving 100 MB for a workspace we would refuse
        caller.require(workspace_id, Role.EDITOR)
    with st.storage.stage(st.max_upload_bytes) as staged:
        form = await read_upload(request.headers.get("content-type", ""), request.stream(), staged)
        ws_id = _workspace(caller, workspace_id, form.fields.get("workspace_id"))
        alt = form.fields.get("alt_text", "")
        # the slow steps (full decode, streaming to the backend) run outside the transaction
        inspected = await run_in_threadpool(
            media.inspect_upload,
            staged,
            filename=form.filename,
            alt_text=alt,
            max_pixels=st.app.settings.media_max_image_pixels,
        )
        stored_key = None
        if not await run_in_threadpool(_known, st, ws_id, inspected.sha256):
            stored_key = await run_in_threadpool(
                media.store_upload, st.storage, staged, inspected, workspace_id=ws_id
            )

        def work(s: Any) -> tuple[int, dict[str, Any]]:
            asset, created = media.record_upload(
                s,
                inspected,
                storage=st.storage,
                workspace_id=ws_id,
                filename=form.filename,
                alt_text=alt,
                now=st.now(),
                actor=caller.actor,
            )
            return (201 if created else 200), MediaOut.of(asset, deduplicated=not created).dump()

        body = {"workspace_id": ws_id, "sha256": inspected.sha256, "alt_text": alt}
        try:
            return await run_in_threadpool(idem.run, work, body=body)
        except BaseException:
            if stored_key is not None and not await run_in_threadpool(
                _known, st, ws_id, inspected.sha256
            ):
                await run_in_threadpool(st.storage.delete, stored_key)  # nothing half-stored
            raise


def _workspace(caller: Any, query: str | None, form: str | None) -> str:
    """The upload's workspace, from the query or the form (they must agree)."""
    ws_id = query or form
    if not ws_id:
        raise ValidationFailed(
            Problem("workspace_id", "is required (query parameter or form field)")
        )
    if query and form not in (None, query):
        raise ValidationFailed(
            Problem("workspace_id", "the query and the form name different workspaces")
        )
    caller.require(ws_id, Role.EDITOR)
    return ws_id


def _known(st: Any, workspace_id: str, sha256: str) -> bool:
    with st.app.db.read() as s:
        return media.find_by_hash(s, workspace_id, sha256) is not None


@router.get("", response_model=MediaList, summary="A workspace's media, newest first")
def list_media(
    st: State,
    caller: CallerDep,
    workspace_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=64, description="nextCursor of the previous page")
    ] = None,
) -> JSONResponse:
    ws_id = resolve_workspace(caller, workspace_id)
    with st.app.db.read() as s:
        rows = media.list_media(s, workspace_id=ws_id, limit=limit + 1, before_id=cursor)
        nxt = rows[limit - 1].id if len(rows) > limit else None
        out = MediaList(media=[MediaOut.of(m) for m in rows[:limit]], next_cursor=nxt)
    return JSONResponse(out.dump())


@router.get("/{media_id}", response_model=MediaOut, summary="One media item")
def read(media_id: str, st: State, caller: CallerDep) -> JSONResponse:
    with st.app.db.read() as s:
        asset = media.get_media(s, media_id)
        caller.require(asset.workspace_id, Role.VIEWER, kind="media", ident=media_id)
        return JSONResponse(MediaOut.of(asset).dump())


@router.delete("/{media_id}", status_code=204, summary="Delete a media item no pending post uses")
def delete(media_id: str, st: State, caller: WriterDep) -> None:
    with st.app.db.session() as s:
        asset = media.get_media(s, media_id)
        caller.require(asset.workspace_id, Role.EDITOR, kind="media", ident=media_id)
        media.delete_media(s, asset, now=st.now(), actor=caller.actor)
