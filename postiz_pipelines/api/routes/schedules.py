"""``/api/postiz/schedules``: list and read schedules; pause, resume, change the rule, delete.

Pausing, changing and deleting remove the schedule's jobs that wait and were never tried;
resuming and changing expand again from now for the next 24 h (nothing of a pause is
published late). Each change answers with the schedule and the job counts it caused.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from postiz_pipelines.api.deps import ApiState, Caller, CallerDep, State, WriterDep
from postiz_pipelines.api.idempotency import IdempotentDep
from postiz_pipelines.api.problems import api_field_names
from postiz_pipelines.api.routes.posts import resolve_workspace
from postiz_pipelines.api.schemas.schedules import (
    PREVIEW_COUNT_DOC,
    RULE_FIELD_NAMES,
    OccurrenceList,
    OccurrenceOut,
    RulePatch,
    RulePreview,
    ScheduleChange,
    ScheduleList,
    ScheduleOut,
)
from postiz_pipelines.core.models import Role, Schedule, ScheduleKind
from postiz_pipelines.core.scheduling import preview
from postiz_pipelines.core.scheduling import schedules as ops
from postiz_pipelines.core.scheduling.expansion import ExpansionReport
from postiz_pipelines.core.workspaces.store import get_workspace
from postiz_pipelines.errors import Conflict

router = APIRouter(prefix="/api/postiz/schedules", tags=["schedules"])
# a PATCH body is the rule itself: its fields are top-level, not under ``schedule.``
PATCH_FIELD_NAMES = {**RULE_FIELD_NAMES, "schedule": ""}


def _load(s: Session, caller: Caller, schedule_id: str, role: Role) -> Schedule:
    schedule = ops.get_schedule(s, schedule_id)
    caller.require(schedule.workspace_id, role, kind="schedule", ident=schedule_id)
    return schedule


def _out(st: ApiState, s: Session, schedule: Schedule) -> ScheduleOut:
    s.flush()
    return ScheduleOut.of(
        schedule,
        ops.waiting_job_counts(s, [schedule.id]).get(schedule.id, 0),
        preview.schedule_times(s, schedule, now=st.now()),
    )


def _changed(
    st: ApiState,
    s: Session,
    schedule: Schedule,
    *,
    removed: int = 0,
    report: ExpansionReport | None = None,
) -> dict[str, Any]:
    return ScheduleChange(
        schedule=_out(st, s, schedule),
        removed_jobs=removed,
        created_jobs=report.jobs_created if report else 0,
        missed=report.missed if report else 0,
    ).dump()


@router.get("", response_model=ScheduleList, summary="A workspace's schedules, oldest first")
def list_(
    st: State,
    caller: CallerDep,
    workspace_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: ScheduleKind | None = None,
) -> JSONResponse:
    ws_id = resolve_workspace(caller, workspace_id)
    with st.app.db.read() as s:
        rows = ops.list_schedules(s, workspace_id=ws_id, kind=kind.value if kind else None)
        counts = ops.waiting_job_counts(s, [r.id for r in rows])
        times = preview.schedules_times(s, rows, now=st.now())
        out = ScheduleList(
            schedules=[ScheduleOut.of(r, counts.get(r.id, 0), times[r.id]) for r in rows]
        )
    return JSONResponse(out.dump())


PreviewCount = Annotated[int, Query(ge=1, le=preview.MAX_PREVIEW, description=PREVIEW_COUNT_DOC)]


@router.post(
    "/preview",
    response_model=OccurrenceList,
    summary="The next instants of a rule not saved yet (nothing is stored)",
)
def preview_rule(
    body: RulePreview, st: State, caller: CallerDep, count: PreviewCount = preview.DEFAULT_PREVIEW
) -> JSONResponse:
    caller.require(body.workspace_id, Role.VIEWER)
    with st.app.db.read() as s:
        workspace = get_workspace(s, body.workspace_id)
        with api_field_names(RULE_FIELD_NAMES):
            zones, found = preview.preview_rule(
                s,
                body.recurrence(),
                workspace=workspace,
                now=st.now(),
                count=count,
                account_ids=body.target_accounts,
            )
    out = OccurrenceList(zones=zones, occurrences=[OccurrenceOut.of(o) for o in found])
    return JSONResponse(out.dump())


@router.get("/{schedule_id}", response_model=ScheduleOut, summary="One schedule")
def read(schedule_id: str, st: State, caller: CallerDep) -> JSONResponse:
    with st.app.db.read() as s:
        return JSONResponse(_out(st, s, _load(s, caller, schedule_id, Role.VIEWER)).dump())


@router.get(
    "/{schedule_id}/occurrences",
    response_model=OccurrenceList,
    summary="A schedule's next instants, in the zones it is read in",
)
def occurrences(
    schedule_id: str, st: State, caller: CallerDep, count: PreviewCount = preview.DEFAULT_PREVIEW
) -> JSONResponse:
    with st.app.db.read() as s:
        schedule = _load(s, caller, schedule_id, Role.VIEWER)
        found = preview.schedule_occurrences(s, schedule, now=st.now(), count=count)
        out = OccurrenceList(
            schedule_id=schedule.id,
            status=schedule.status,
            zones=preview.schedule_zones(s, schedule),
            occurrences=[OccurrenceOut.of(o) for o in found],
        )
    return JSONResponse(out.dump())


@router.post(
    "/{schedule_id}/pause",
    response_model=ScheduleChange,
    summary="Pause a recurring or evergreen schedule; its waiting jobs are removed",
)
def pause(schedule_id: str, st: State, caller: WriterDep, idem: IdempotentDep) -> JSONResponse:
    now = st.now()

    def work(s: Session) -> tuple[int, dict[str, Any]]:
        schedule = _load(s, caller, schedule_id, Role.EDITOR)
        removed = ops.pause_schedule(s, schedule, now=now, actor=caller.actor)
        return 200, _changed(st, s, schedule, removed=removed)

    return idem.run(work, body={})


@router.post(
    "/{schedule_id}/resume",
    response_model=ScheduleChange,
    summary="Resume a paused schedule from now (what fell in the pause is not published)",
)
def resume(schedule_id: str, st: State, caller: WriterDep, idem: IdempotentDep) -> JSONResponse:
    now = st.now()

    def work(s: Session) -> tuple[int, dict[str, Any]]:
        schedule = _load(s, caller, schedule_id, Role.EDITOR)
        report = ops.resume_schedule(
            s, schedule, now=now, actor=caller.actor, max_attempts=st.app.settings.max_retries + 1
        )
        schedule.updated_at = now  # set explicitly, or the column's onupdate stamps wall time
        return 200, _changed(st, s, schedule, report=report)

    return idem.run(work, body={})


@router.patch(
    "/{schedule_id}",
    response_model=ScheduleChange,
    summary="Replace a recurring schedule's rule; its waiting jobs are remade",
)
def change(schedule_id: str, body: RulePatch, st: State, caller: WriterDep) -> JSONResponse:
    now = st.now()
    with st.app.db.session() as s:
        schedule = _load(s, caller, schedule_id, Role.EDITOR)
        # change_recurrence removes exactly these, after the new rule passed validation
        waiting = ops.waiting_job_counts(s, [schedule.id]).get(schedule.id, 0)
        with api_field_names(PATCH_FIELD_NAMES):
            report = ops.change_recurrence(
                s,
                schedule,
                body.recurrence(),
                now=now,
                actor=caller.actor,
                max_attempts=st.app.settings.max_retries + 1,
            )
        preview.restate_first(s, schedule)
        schedule.updated_at = now
        return JSONResponse(_changed(st, s, schedule, removed=waiting, report=report))


@router.delete(
    "/{schedule_id}",
    response_model=ScheduleChange,
    summary="Delete a recurring schedule; its waiting jobs are removed",
)
def delete(schedule_id: str, st: State, caller: WriterDep) -> JSONResponse:
    now = st.now()
    with st.app.db.session() as s:
        schedule = _load(s, caller, schedule_id, Role.EDITOR)
        if schedule.kind == ScheduleKind.SINGLE:
            raise Conflict(
                "a single post's schedule goes with the post: cancel the post "
                f"(DELETE /api/postiz/posts/{schedule.post_id})"
            )
        if schedule.kind == ScheduleKind.EVERGREEN:
            raise Conflict(
                "the evergreen timetable's schedule stays with the timetable: pause it "
                f"(POST /api/postiz/schedules/{schedule.id}/pause)"
            )
        removed = ops.delete_schedule(s, schedule, now=now, actor=caller.actor)
        schedule.updated_at = now
        return JSONResponse(_changed(st, s, schedule, removed=removed))
