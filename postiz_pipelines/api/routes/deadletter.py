"""``/api/postiz/dead-letter``: failed jobs, and requeue, reschedule or cancel one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from postiz_pipelines.api.deps import ApiState, Caller, CallerDep, State, WriterDep
from postiz_pipelines.api.idempotency import Idempotent, IdempotentDep
from postiz_pipelines.api.schemas.jobs import JobList, JobOut, RescheduleIn, RetryIn
from postiz_pipelines.core.models import Role
from postiz_pipelines.core.publishing import deadletter
from postiz_pipelines.core.scheduling.timeparse import parse_instant

router = APIRouter(prefix="/api/postiz/dead-letter", tags=["dead-letter"])


@router.get("", response_model=JobList, summary="Failed jobs needing a person, latest first")
def list_(
    st: State,
    caller: CallerDep,
    workspace_id: Annotated[
        str | None, Query(max_length=64, description="default: all yours")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> JSONResponse:
    if workspace_id is not None:
        caller.require(workspace_id, Role.VIEWER)
    ws_ids = [workspace_id] if workspace_id else sorted(caller.workspace_ids)
    with st.app.db.read() as s:
        page = deadletter.list_dead_letter(s, workspace_ids=ws_ids, limit=limit, cursor=cursor)
        return JSONResponse(
            JobList(jobs=[JobOut.of(j) for j in page.jobs], next_cursor=page.next_cursor).dump()
        )


def _job(s: Any, caller: Caller, job_id: str) -> Any:
    job = deadletter.get_job(s, job_id)
    caller.require(job.workspace_id, Role.EDITOR, kind="job", ident=job_id)
    return job


def _requeue(
    st: ApiState, caller: Caller, idem: Idempotent, job_id: str, at: str | None, force: bool
) -> JSONResponse:
    now = st.now()

    def work(s: Any) -> tuple[int, dict[str, Any]]:
        job = _job(s, caller, job_id)
        when = parse_instant(at, field="at", fallback_zone="UTC") if at else None
        deadletter.requeue_jobs(
            s,
            [job],
            now=now,
            at=when,
            extra_attempts=st.app.settings.max_retries + 1,
            force=force,
            actor=caller.actor,
        )
        return 200, JobOut.of(job).dump()

    return idem.run(work, body={"at": at, "force": force})


@router.post(
    "/{job_id}/requeue", response_model=JobOut, summary="Retry a failed job now (or at 'at')"
)
def requeue(
    job_id: str, st: State, caller: WriterDep, idem: IdempotentDep, body: RetryIn | None = None
) -> JSONResponse:
    body = body or RetryIn()
    return _requeue(st, caller, idem, job_id, body.at, body.force)


@router.post(
    "/{job_id}/reschedule", response_model=JobOut, summary="Retry a failed job at a given time"
)
def reschedule(
    job_id: str, body: RescheduleIn, st: State, caller: WriterDep, idem: IdempotentDep
) -> JSONResponse:
    return _requeue(st, caller, idem, job_id, body.at, body.force)


@router.post("/{job_id}/cancel", response_model=JobOut, summary="Give up on a failed job")
def cancel(job_id: str, st: State, caller: WriterDep, idem: IdempotentDep) -> JSONResponse:
    def work(s: Any) -> tuple[int, dict[str, Any]]:
        job = _job(s, caller, job_id)
        deadletter.cancel_failed_job(s, job, now=st.now(), actor=caller.actor)
        return 200, JobOut.of(job).dump()

    return idem.run(work, body={})
