"""Posts: create, edit, read and list (with their targets and schedule)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from postiz_pipelines.api.schemas.base import MAX_TEXT, Id, In, Instant, Out, iso
from postiz_pipelines.api.schemas.schedules import RecurringSchedule, ScheduleOut, SingleSchedule
from postiz_pipelines.core.models import Post


class TargetOverrideIn(In):
    content: str | None = Field(default=None, max_length=MAX_TEXT)
    settings: dict[str, Any] = Field(default_factory=dict)


class PostCreate(In):
    content: str = Field(max_length=MAX_TEXT)
    workspace_id: Id = Field(min_length=1, max_length=64)
    target_accounts: list[Id] = Field(min_length=1, max_length=50)
    scheduled_at: Instant | None = Field(
        default=None,
        description="ISO 8601 with offset, or local time with timezone, 'now' or 'next_slot'; "
        "omit for now",
    )
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA zone for a scheduledAt without offset"
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
    priority: int = Field(default=0, ge=-100, le=100)


class PostPatch(In):
    content: str | None = Field(default=None, max_length=MAX_TEXT)
    scheduled_at: Instant | None = None
    timezone: str | None = Field(default=None, max_length=64)
    media_ids: list[Id] | None = Field(default=None, max_length=20)
    settings: dict[str, Any] | None = None
    overrides: dict[Id, TargetOverrideIn] | None = None


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
    schedule: ScheduleOut | None = Field(
        default=None,
        description="the post's schedule with its zones and next instants (a list gives the "
        "next one only)",
    )

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


class PostCreated(PostOut):
    """A new post and the schedule made for it (pause or change it under /schedules)."""

    warnings: list[str] = Field(
        default_factory=list,
        description="what could not be checked at creation (a platform out of reach); the "
        "same rules are checked again before publishing",
    )
