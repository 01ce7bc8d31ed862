"""Request and response bodies. JSON names are camelCase (the seed's ``scheduledAt``,
``targetAccounts``...); unknown request fields are refused so a typo never goes unnoticed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from postiz_pipelines.core.models import (
    MediaAsset,
    Post,
    PublishAttempt,
    PublishJob,
)
from postiz_pipelines.core.scheduling.schedules import Recurrence

Id = str
RoleName = Literal["owner", "admin", "editor", "viewer"]
MAX_TEXT = 100_000


class In(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


MIN_YEAR, MAX_YEAR = 1970, 9000


def _plausible_year(value: str) -> str:
    """Refuse ISO times whose year cannot be shifted to UTC and back (0001, 9999) before
    they reach date arithmetic; anything that is not ISO is left for the domain to name."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return value
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(f"year {parsed.year} is outside {MIN_YEAR}..{MAX_YEAR}")
    return value


Instant = Annotated[str, Field(max_length=64), AfterValidator(_plausible_year)]


# -- schedules ---------------------------------------------------------------------------
class SingleSchedule(In):
    """Publish once: at ``at``, ``"now"`` (the default) or ``"next_slot"`` (each account's
    next free posting slot). The post's ``scheduledAt`` is the same thing without the object."""

    kind: Literal["single"]
    at: Instant | None = Field(None, description="ISO 8601, 'now' or 'next_slot'; omit for now")
    timezone: str | None = Field(None, max_length=64)


class RuleIn(In):
    """A recurring rule: an RFC 5545 ``rrule`` or a 5-field ``cron`` (one of them), read on
    the wall clock of ``timezone`` (else each account's, else the workspace's), from
    ``startsAt`` (default now), bounded by ``until`` and ``count``."""

    rrule: str | None = Field(
        None, max_length=1000, description="e.g. 'FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=0'"
    )
    cron: str | None = Field(None, max_length=200, description="e.g. '30 9 * * 1-5'")
    timezone: str | None = Field(None, max_length=64, description="IANA zone")
    starts_at: Instant | None = Field(None, description="ISO 8601; local times read in timezone")
    until: Instant | None = Field(None, description="ISO 8601; the last possible occurrence")
    count: int | None = Field(None, ge=1, le=100_000, description="how many occurrences at most")
    grace_seconds: int = Field(
        3600, ge=0, le=604_800, description="an occurrence this late still publishes"
    )

    def recurrence(self) -> Recurrence:
        return Recurrence(
            rrule=self.rrule,
            cron=self.cron,
            timezone=self.timezone,
            starts_at=self.starts_at,
            until=self.until,
            count=self.count,
            grace_seconds=self.grace_seconds,
        )


class RecurringSchedule(RuleIn):
    """Publish the post at every occurrence of a rule; jobs are made 24 h ahead."""

    kind: Literal["recurring"]


# the domain names a rule's fields in snake case; the client wrote camel case
RULE_FIELD_NAMES = {"starts_at": "startsAt", "grace_seconds": "graceSeconds"}


# -- posts -------------------------------------------------------------------------------
class TargetOverrideIn(In):
    content: str | None = Field(None, max_length=MAX_TEXT)
    settings: dict[str, Any] = Field(default_factory=dict)


class PostCreate(In):
    content: str = Field(max_length=MAX_TEXT)
    workspace_id: Id = Field(min_length=1, max_length=64)
    target_accounts: list[Id] = Field(min_length=1, max_length=50)
    scheduled_at: Instant | None = Field(
        None,
        description="ISO 8601 with offset, or local time with timezone, 'now' or 'next_slot'; "
        "omit for now",
    )
    timezone: str | None = Field(
        None, max_length=64, description="IANA zone for a scheduledAt without offset"
    )
    schedule: Annotated[SingleSchedule | RecurringSchedule, Field(discriminator="kind")] | None = (
        None
    )
    media_ids: list[Id] = Field(default_factory=list, max_length=20)
    settings: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[Id, TargetOverrideIn] = Field(
        default_factory=dict, description="per target account"
    )
    thread: list[str] = Field(default_factory=list, max_length=25)
    priority: int = Field(0, ge=-100, le=100)


class PostPatch(In):
    content: str | None = Field(None, max_length=MAX_TEXT)
    scheduled_at: Instant | None = None
    timezone: str | None = Field(None, max_length=64)
    media_ids: list[Id] | None = Field(None, max_length=20)
    settings: dict[str, Any] | None = None
    overrides: dict[Id, TargetOverrideIn] | None = None


class RetryIn(In):
    at: Instant | None = Field(None, description="ISO 8601; omit for now")
    force: bool = Field(False, description="requeue jobs whose outcome is uncertain (you checked)")


class RescheduleIn(In):
    at: Instant
    force: bool = False


class TargetOut(Out):
    id: Id
    account_id: Id
    platform: str | None
    status: str
    content_override: str | None
    settings_override: dict[str, Any]
    remote_id: str | None
    remote_url: str | None
    published_at: str | None


class PostOut(Out):
    id: Id
    workspace_id: Id
    content: str
    status: str
    scheduled_at: str | None
    settings: dict[str, Any]
    media_ids: list[Id]
    targets: list[TargetOut]
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, p: Post) -> PostOut:
        return cls(
            id=p.id,
            workspace_id=p.workspace_id,
            content=p.content,
            status=p.status,
            scheduled_at=iso(p.scheduled_at),
            settings=dict(p.settings or {}),
            media_ids=[m.media_id for m in p.media],
            targets=[
                TargetOut(
                    id=t.id,
                    account_id=t.account_id,
                    platform=t.account.platform if t.account else None,
                    status=t.status,
                    content_override=t.content_override,
                    settings_override=dict(t.settings_override or {}),
                    remote_id=t.remote_id,
                    remote_url=t.remote_url,
                    published_at=iso(t.published_at),
                )
                for t in p.targets
            ],
            created_at=p.created_at.isoformat(),
            updated_at=p.updated_at.isoformat(),
        )


class Pagination(Out):
    page: int | None
    limit: int
    has_more: bool
    next_cursor: str | None


class PostList(Out):
    posts: list[PostOut]
    pagination: Pagination


class JobOut(Out):
    id: Id
    post_id: Id
    workspace_id: Id
    account_id: Id
    platform: str
    status: str
    attempts: int
    max_attempts: int
    run_at: str
    next_attempt_at: str
    last_error: str | None
    last_error_class: str | None
    remote_id: str | None
    completed_at: str | None

    @classmethod
    def of(cls, j: PublishJob) -> JobOut:
        return cls(
            id=j.id,
            post_id=j.post_id,
            workspace_id=j.workspace_id,
            account_id=j.account_id,
            platform=j.platform,
            status=j.status,
            attempts=j.attempts,
            max_attempts=j.max_attempts,
            run_at=j.run_at.isoformat(),
            next_attempt_at=j.next_attempt_at.isoformat(),
            last_error=j.last_error,
            last_error_class=j.last_error_class,
            remote_id=j.remote_id,
            completed_at=iso(j.completed_at),
        )


class JobList(Out):
    jobs: list[JobOut]
    next_cursor: str | None


class AttemptOut(Out):
    job_id: Id
    account_id: Id
    platform: str
    attempt_no: int
    outcome: str
    started_at: str
    finished_at: str | None
    http_status: int | None
    error_class: str | None
    error_code: str | None
    error_message: str | None
    remote_id: str | None
    remote_url: str | None
    duration_ms: int | None

    @classmethod
    def of(cls, a: PublishAttempt, j: PublishJob) -> AttemptOut:
        return cls(
            job_id=j.id,
            account_id=j.account_id,
            platform=j.platform,
            attempt_no=a.attempt_no,
            outcome=a.outcome,
            started_at=a.started_at.isoformat(),
            finished_at=iso(a.finished_at),
            http_status=a.http_status,
            error_class=a.error_class,
            error_code=a.error_code,
            error_message=a.error_message,
            remote_id=a.remote_id,
            remote_url=a.remote_url,
            duration_ms=a.duration_ms,
        )


class AttemptList(Out):
    attempts: list[AttemptOut]


# -- media -------------------------------------------------------------------------------
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


# -- worker ------------------------------------------------------------------------------
class WorkerProcessIn(In):
    max_jobs: int = Field(10, ge=1, le=1000)
    include_scheduler: bool = False
    workspace_id: Id | None = Field(None, max_length=64)
    platform: str | None = Field(None, max_length=24)
