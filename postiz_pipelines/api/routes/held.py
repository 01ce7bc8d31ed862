"""``/api/postiz/held-jobs``: jobs waiting for their account to be reconnected."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from postiz_pipelines.api.deps import CallerDep, State
from postiz_pipelines.api.schemas.jobs import JobList, JobOut
from postiz_pipelines.core.models import Role
from postiz_pipelines.core.publishing import hold

router = APIRouter(prefix="/api/postiz/held-jobs", tags=["dead-letter"])


@router.get(
    "",
    response_model=JobList,
    summary="Jobs held until their account is reconnected, the longest held first",
)
def list_(
    st: State,
    caller: CallerDep,
    workspace_id: Annotated[
        str | None, Query(max_length=64, description="default: all yours")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    if workspace_id is not None:
        caller.require(workspace_id, Role.VIEWER)
    ws_ids = [workspace_id] if workspace_id else sorted(caller.workspace_ids)
    with st.app.db.read() as s:
        jobs = hold.list_held(s, workspace_ids=ws_ids, limit=limit)
        return JSONResponse(JobList(jobs=[JobOut.of(j) for j in jobs], next_cursor=None).dump())
