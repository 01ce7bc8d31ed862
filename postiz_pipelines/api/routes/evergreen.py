"""``/api/postiz/evergreen``: a workspace's evergreen timetable, its library, category pauses.

The timetable (weekly slots, each drawing from a category, published to its accounts) is
one per workspace and is planned into posts by the scheduler pass, like recurring
schedules: 24 h ahead, idempotently. Library posts are validated for every platform of the
timetable's accounts when they are added.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from postiz_pipelines.api.deps import ApiState, Caller, CallerDep, State, WriterDep
from postiz_pipelines.api.idempotency import Idempotent, IdempotentDep
from postiz_pipelines.api.problems import api_field_names
from postiz_pipelines.api.routes.posts import resolve_workspace
from postiz_pipelines.api.schemas.evergreen import (
    CATEGORY,
    LIBRARY_FIELD_NAMES,
    TIMETABLE_FIELD_NAMES,
    CategoryState,
    EvergreenPostIn,
    EvergreenPostList,
    EvergreenPostOut,
    TimetableIn,
    TimetableOut,
)
from postiz_pipelines.core.models import EvergreenPost, EvergreenTimetable, Role, Schedule
from postiz_pipelines.core.scheduling import evergreen_store as store
from postiz_pipelines.core.scheduling.preview import schedule_times
from postiz_pipelines.core.scheduling.schedules import waiting_job_counts
from postiz_pipelines.core.scheduling.timeparse import parse_instant
from postiz_pipelines.core.workspaces.store import get_workspace
from postiz_pipelines.errors import NotFound

router = APIRouter(prefix="/api/postiz/evergreen", tags=["evergreen"])
WorkspaceQuery = Annotated[
    str | None, Query(max_length=64, description="default: your only workspace")
]
Category = Annotated[str, Path(min_length=1, max_length=CATEGORY)]


def _timetable_out(st: ApiState, s: Session, table: EvergreenTimetable) -> dict[str, Any]:
    s.flush()
    schedule = s.get(Schedule, table.schedule_id)
    if schedule is None:
        return TimetableOut.of(table, "missing").dump()
    times = schedule_times(s, schedule, now=st.now())
    return TimetableOut.of(table, schedule.status, times).dump()


@router.get("/timetable", response_model=TimetableOut, summary="The workspace's timetable")
def read_timetable(
    st: State, caller: CallerDep, workspace_id: WorkspaceQuery = None
) -> JSONResponse:
    ws_id = resolve_workspace(caller, workspace_id)
    with st.app.db.read() as s:
        table = s.get(EvergreenTimetable, ws_id)
        if table is None:
            raise NotFound("evergreen timetable", ws_id)
        return JSONResponse(_timetable_out(st, s, table))


@router.put(
    "/timetable",
    response_model=TimetableOut,
    summary="Create or replace the timetable; every library post is checked against its accounts",
)
def put_timetable(
    body: TimetableIn, st: State, caller: WriterDep, workspace_id: WorkspaceQuery = None
) -> JSONResponse:
    ws_id = resolve_workspace(caller, workspace_id, Role.EDITOR)
    with st.app.db.session() as s, api_field_names(TIMETABLE_FIELD_NAMES):
        table = store.set_timetable(
            s,
            workspace=get_workspace(s, ws_id),
            slots=[slot.model_dump() for slot in body.slots],
            account_ids=body.account_ids,
            timezone=body.timezone,
            cooldown_seconds=body.cooldown_seconds,
            shuffle=body.shuffle,
            seed=body.seed,
            now=st.now(),
            actor=caller.actor,
        )
        return JSONResponse(_timetable_out(st, s, table))


@router.get("/posts", response_model=EvergreenPostList, summary="The library, by category")
def list_posts(
    st: State,
    caller: CallerDep,
    workspace_id: WorkspaceQuery = None,
    category: Annotated[str | None, Query(max_length=CATEGORY)] = None,
) -> JSONResponse:
    ws_id = resolve_workspace(caller, workspace_id)
    with st.app.db.read() as s:
        rows = store.list_library(s, workspace_id=ws_id, category=category)
        return JSONResponse(EvergreenPostList(posts=[EvergreenPostOut.of(r) for r in rows]).dump())


@router.post(
    "/posts",
    status_code=201,
    response_model=EvergreenPostOut,
    summary="Add a post (one or more text variations) to the library",
)
def add_post(
    body: EvergreenPostIn, st: State, caller: WriterDep, idem: IdempotentDep
) -> JSONResponse:
    caller.require(body.workspace_id, Role.EDITOR)

    def work(s: Session) -> tuple[int, dict[str, Any]]:
        ws = get_workspace(s, body.workspace_id)
        with api_field_names(LIBRARY_FIELD_NAMES):
            expires = (
                parse_instant(
                    body.expires_at,
                    field="expiresAt",
                    fallback_zone=ws.timezone,
                    fallback_name=f"workspace {ws.slug!r}",
                )
                if body.expires_at
                else None
            )
            row = store.add_library_post(
                s,
                workspace=ws,
                category=body.category,
                variations=body.variations,
                max_uses=body.max_uses,
                expires_at=expires,
                cooldown_seconds=body.cooldown_seconds,
                now=st.now(),
                actor=caller.actor,
            )
        return 201, EvergreenPostOut.of(row).dump()

    return idem.run(work, body=body.model_dump(mode="json"))


@router.delete(
    "/posts/{post_id}", status_code=204, summary="Remove a post from the library (kept as history)"
)
def remove_post(post_id: str, st: State, caller: WriterDep) -> None:
    with st.app.db.session() as s:
        row = s.get(EvergreenPost, post_id)
        if row is None or row.deleted_at is not None:
            raise NotFound("evergreen post", post_id)
        caller.require(row.workspace_id, Role.EDITOR, kind="evergreen post", ident=post_id)
        store.remove_library_post(
            s, workspace_id=row.workspace_id, post_id=post_id, now=st.now(), actor=caller.actor
        )


def _set_paused(
    st: ApiState,
    caller: Caller,
    idem: Idempotent,
    workspace_id: str | None,
    category: str,
    paused: bool,
) -> JSONResponse:
    ws_id = resolve_workspace(caller, workspace_id, Role.EDITOR)

    def work(s: Session) -> tuple[int, dict[str, Any]]:
        table = s.get(EvergreenTimetable, ws_id)
        before = waiting_job_counts(s, [table.schedule_id]) if table else {}
        now_paused = store.set_category_paused(
            s,
            workspace=get_workspace(s, ws_id),
            category=category,
            paused=paused,
            now=st.now(),
            actor=caller.actor,
        )
        s.flush()
        after = waiting_job_counts(s, [table.schedule_id]) if table else {}
        # resuming withdraws and redraws the planned picks, so only a net fall counts as removed
        removed = max(sum(before.values()) - sum(after.values()), 0)
        out = CategoryState(
            workspace_id=ws_id,
            category=category,
            paused=paused,
            paused_categories=now_paused,
            removed_jobs=removed,
        )
        return 200, out.dump()

    return idem.run(work, body={"ws": ws_id})


@router.post(
    "/categories/{category}/pause",
    response_model=CategoryState,
    summary="Pause a category: its slots give nothing, its planned posts are removed",
)
def pause_category(
    category: Category,
    st: State,
    caller: WriterDep,
    idem: IdempotentDep,
    workspace_id: WorkspaceQuery = None,
) -> JSONResponse:
    return _set_paused(st, caller, idem, workspace_id, category, True)


@router.post(
    "/categories/{category}/resume",
    response_model=CategoryState,
    summary="Resume a category; its slots in the next 24 h are planned again at once",
)
def resume_category(
    category: Category,
    st: State,
    caller: WriterDep,
    idem: IdempotentDep,
    workspace_id: WorkspaceQuery = None,
) -> JSONResponse:
    return _set_paused(st, caller, idem, workspace_id, category, False)
