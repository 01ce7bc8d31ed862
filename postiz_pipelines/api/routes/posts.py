"""``/api/postiz/posts``: list, create, read, edit or reschedule, cancel, retry, attempts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from postiz_pipelines.api.deps import ApiState, Caller, CallerDep, State, WriterDep
from postiz_pipelines.api.idempotency import IdempotentDep
from postiz_pipelines.api.problems import api_field_names
from postiz_pipelines.api.schemas.jobs import AttemptList, AttemptOut, JobList, JobOut, RetryIn
from postiz_pipelines.api.schemas.posts import (
    Pagination,
    PostCreate,
    PostCreated,
    PostList,
    PostOut,
    PostPatch,
)
from postiz_pipelines.api.schemas.schedules import RULE_FIELD_NAMES, RecurringSchedule, ScheduleOut
from postiz_pipelines.core.accounts.platform_facts import refresh_for_post
from postiz_pipelines.core.models import PostStatus, Role, Schedule
from postiz_pipelines.core.posts import manage as post_ops
from postiz_pipelines.core.posts.create import TargetOverride, create_post
from postiz_pipelines.core.scheduling.preview import post_schedules, schedule_times, schedules_times
from postiz_pipelines.core.scheduling.schedules import waiting_job_counts
from postiz_pipelines.core.scheduling.timeparse import parse_instant
from postiz_pipelines.core.workspaces.store import get_workspace
from postiz_pipelines.errors import Problem, ValidationFailed

router = APIRouter(prefix="/api/postiz/posts", tags=["posts"])


def resolve_workspace(caller: Caller, workspace_id: str | None, role: Role = Role.VIEWER) -> str:
    """The workspace a list applies to: the given one, or the caller's only one."""
    if workspace_id is None:
        if len(caller.roles) != 1:
            raise ValidationFailed(
                Problem("workspace_id", "is required (you belong to several workspaces)")
            )
        workspace_id = next(iter(caller.roles))
    caller.require(workspace_id, role)
    return workspace_id


@router.get("", response_model=PostList, summary="A workspace's posts, filtered and paged")
def list_posts(
    st: State,
    caller: CallerDep,
    workspace_id: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    status: PostStatus | None = None,
    cursor: Annotated[
        str | None, Query(max_length=500, description="nextCursor of the previous page")
    ] = None,
) -> JSONResponse:
    ws_id = resolve_workspace(caller, workspace_id)
    if cursor and page != 1:
        raise ValidationFailed(Problem("page", "give either page or cursor, not both", page))
    with st.app.db.read() as s:
        result = post_ops.list_posts_page(
            s,
            workspace_id=ws_id,
            status=status.value if status else None,
            limit=limit,
            cursor=cursor,
            offset=(page - 1) * limit,
        )
        out = PostList(
            posts=with_schedules(st, s, result.posts),
            pagination=Pagination(
                page=None if cursor else page,
                limit=limit,
                has_more=result.next_cursor is not None,
                next_cursor=result.next_cursor,
            ),
        )
    return JSONResponse(out.dump())


@router.post(
    "",
    status_code=201,
    response_model=PostCreated,
    summary="Create a post, published once (schedule.kind single) or on a rule (recurring)",
)
def create(body: PostCreate, st: State, caller: WriterDep, idem: IdempotentDep) -> JSONResponse:
    caller.require(body.workspace_id, Role.EDITOR)
    when, zone, recurrence = body.scheduled_at, body.timezone, None
    if body.schedule is not None:
        if body.scheduled_at is not None:
            raise ValidationFailed(
                Problem("schedule", "give either scheduledAt or schedule, not both")
            )
        if isinstance(body.schedule, RecurringSchedule):
            if body.timezone is not None:
                raise ValidationFailed(
                    Problem("timezone", "a recurring schedule takes schedule.timezone instead")
                )
            when, zone, recurrence = None, None, body.schedule.recurrence()
        else:
            when, zone = body.schedule.at, body.schedule.timezone or body.timezone

    # what the platforms say about the accounts (TikTok creators, subreddits), read when the
    # saved copy is missing or a day old, before the post is validated against it
    warnings = refresh_for_post(
        st.app,
        workspace_id=body.workspace_id,
        account_ids=body.target_accounts,
        settings_of={
            acc: {
                **body.settings,
                **(body.overrides[acc].settings if acc in body.overrides else {}),
            }
            for acc in body.target_accounts
        },
        now=st.now(),
        transport=st.transport,
    )

    def work(s: Any) -> tuple[int, dict[str, Any]]:
        ws = get_workspace(s, body.workspace_id)
        with api_field_names(RULE_FIELD_NAMES):
            post = create_post(
                s,
                workspace=ws,
                text=body.content,
                account_ids=body.target_accounts,
                scheduled_at=when,
                timezone=zone,
                recurrence=recurrence,
                now=st.now(),
                media_ids=body.media_ids,
                settings=body.settings,
                overrides={
                    k: TargetOverride(v.content, v.settings) for k, v in body.overrides.items()
                },
                thread=body.thread,
                priority=body.priority,
                media_root=st.app.media_root,
                max_attempts=st.app.settings.max_retries + 1,
                actor=caller.actor,
            )
        post.author_id = caller.user_id
        # set explicitly, or the column's onupdate stamps wall time
        post.updated_at = post.created_at
        s.flush()
        out = PostCreated(**with_schedule(st, s, post).model_dump(), warnings=warnings)
        return 201, out.dump()

    return idem.run(work, body=body.model_dump(mode="json"))


def _load(st: ApiState, s: Any, caller: Caller, post_id: str, role: Role) -> Any:
    post = post_ops.get_post(s, post_id)
    caller.require(post.workspace_id, role, kind="post", ident=post_id)
    return post


def with_schedule(st: ApiState, s: Any, post: Any) -> PostOut:
    """The post with its schedule: zones and next instants (a recurring post's next runs)."""
    out = PostOut.of(post)
    schedule = s.scalar(select(Schedule).where(Schedule.post_id == post.id))
    if schedule is not None:
        waiting = waiting_job_counts(s, [schedule.id]).get(schedule.id, 0)
        times = schedule_times(s, schedule, now=st.now())
        out.schedule = ScheduleOut.of(schedule, waiting, times)
    return out


def with_schedules(st: ApiState, s: Any, posts: Any) -> list[PostOut]:
    """Posts of a list, each with its schedule's zones and next instant: the schedules,
    their waiting jobs, accounts and workspaces are read once for the page, not per post."""
    by_post = post_schedules(s, [p.id for p in posts])
    schedules = list(by_post.values())
    waiting = waiting_job_counts(s, [x.id for x in schedules])
    times = schedules_times(s, schedules, now=st.now(), count=1)
    out = []
    for p in posts:
        item = PostOut.of(p)
        if (sc := by_post.get(p.id)) is not None:
            item.schedule = ScheduleOut.of(sc, waiting.get(sc.id, 0), times[sc.id])
        out.append(item)
    return out


@router.get("/{post_id}", response_model=PostOut, summary="One post with its targets")
def read(post_id: str, st: State, caller: CallerDep) -> JSONResponse:
    with st.app.db.read() as s:
        return JSONResponse(with_schedule(st, s, _load(st, s, caller, post_id, Role.VIEWER)).dump())


@router.patch(
    "/{post_id}", response_model=PostOut, summary="Edit or reschedule a post before publishing"
)
def edit(post_id: str, body: PostPatch, st: State, caller: WriterDep) -> JSONResponse:
    with st.app.db.session() as s:
        post = _load(st, s, caller, post_id, Role.EDITOR)
        post_ops.update_post(
            s,
            post,
            now=st.now(),
            workspace=get_workspace(s, post.workspace_id),
            content=body.content,
            scheduled_at=body.scheduled_at,
            timezone=body.timezone,
            settings=body.settings,
            media_ids=body.media_ids,
            overrides=None
            if body.overrides is None
            else {k: TargetOverride(v.content, v.settings) for k, v in body.overrides.items()},
            media_root=st.app.media_root,
            actor=caller.actor,
        )
        s.flush()
        s.refresh(post)
        return JSONResponse(PostOut.of(post).dump())


@router.delete("/{post_id}", response_model=PostOut, summary="Cancel a post's unpublished targets")
def cancel(post_id: str, st: State, caller: WriterDep) -> JSONResponse:
    with st.app.db.session() as s:
        post = _load(st, s, caller, post_id, Role.EDITOR)
        post_ops.cancel_post(s, post, now=st.now(), actor=caller.actor)
        return JSONResponse(PostOut.of(post).dump())


@router.post("/{post_id}/retry", response_model=JobList, summary="Requeue the post's failed jobs")
def retry(
    post_id: str, st: State, caller: WriterDep, idem: IdempotentDep, body: RetryIn | None = None
) -> JSONResponse:
    body = body or RetryIn()
    now = st.now()

    def work(s: Any) -> tuple[int, dict[str, Any]]:
        post = _load(st, s, caller, post_id, Role.EDITOR)
        at = parse_instant(body.at, field="at", fallback_zone="UTC") if body.at else None
        jobs = post_ops.retry_post(
            s,
            post,
            now=now,
            at=at,
            extra_attempts=st.app.settings.max_retries + 1,
            force=body.force,
            actor=caller.actor,
        )
        return 200, JobList(jobs=[JobOut.of(j) for j in jobs], next_cursor=None).dump()

    return idem.run(work, body=body.model_dump(mode="json"))


@router.get(
    "/{post_id}/jobs",
    response_model=JobList,
    summary="The post's jobs: one per target and occurrence, held ones with their reason",
)
def jobs(post_id: str, st: State, caller: CallerDep) -> JSONResponse:
    with st.app.db.read() as s:
        post = _load(st, s, caller, post_id, Role.VIEWER)
        rows = post_ops.post_jobs(s, post.id)
        return JSONResponse(JobList(jobs=[JobOut.of(j) for j in rows], next_cursor=None).dump())


@router.get(
    "/{post_id}/attempts", response_model=AttemptList, summary="Every publish attempt of the post"
)
def attempts(post_id: str, st: State, caller: CallerDep) -> JSONResponse:
    with st.app.db.read() as s:
        post = _load(st, s, caller, post_id, Role.VIEWER)
        rows = post_ops.post_attempts(s, post.id)
        return JSONResponse(AttemptList(attempts=[AttemptOut.of(a, j) for a, j in rows]).dump())
