"""Request and response bodies of schedules, the evergreen library and posting slots.

Same conventions as ``schemas``: camelCase, unknown fields refused. Weekdays count from
Monday = 0 to Sunday = 6; times are local "HH:MM" on the timetable's (or account's) zone.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from postiz_pipelines.api.schemas import Id, In, Instant, Out, PostOut, RuleIn, iso
from postiz_pipelines.core.models import EvergreenPost, EvergreenTimetable, Schedule

CATEGORY = 100  # the column's width
MAX_SLOTS = 200
MAX_VARIATION = 100_000


# -- schedules ---------------------------------------------------------------------------
class ScheduleOut(Out):
    id: Id
    workspace_id: Id
    post_id: Id | None
    kind: str
    status: str
    run_at: str | None
    rrule: str | None
    cron: str | None
    timezone: str | None
    starts_at: str | None
    until: str | None
    count: int | None
    grace_seconds: int
    priority: int
    expanded_until: str | None
    waiting_jobs: int = Field(description="jobs waiting, never tried (a pause removes them)")
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, sc: Schedule, waiting_jobs: int = 0) -> ScheduleOut:
        return cls(
            id=sc.id,
            workspace_id=sc.workspace_id,
            post_id=sc.post_id,
            kind=sc.kind,
            status=sc.status,
            run_at=iso(sc.run_at),
            rrule=sc.rrule,
            cron=sc.cron,
            timezone=sc.timezone,
            starts_at=iso(sc.starts_at),
            until=iso(sc.until),
            count=sc.count,
            grace_seconds=sc.grace_seconds,
            priority=sc.priority,
            expanded_until=iso(sc.expanded_until),
            waiting_jobs=waiting_jobs,
            created_at=sc.created_at.isoformat(),
            updated_at=sc.updated_at.isoformat(),
        )


class PostCreated(PostOut):
    """A new post and the schedule made for it (pause or change it under /schedules)."""

    schedule: ScheduleOut | None = None


class ScheduleList(Out):
    schedules: list[ScheduleOut]


class RulePatch(RuleIn):
    """The new rule of a recurring schedule; it replaces the old one whole (fields left out
    take their defaults), and its waiting jobs are remade."""


class ScheduleChange(Out):
    """A schedule after a pause, resume, rule change or delete, with what that did."""

    schedule: ScheduleOut
    removed_jobs: int = Field(description="waiting, never-tried jobs removed")
    created_jobs: int = Field(description="jobs made for the next 24 h")
    missed: int = Field(0, description="occurrences too late to publish (reported, not sent)")


# -- evergreen ---------------------------------------------------------------------------
class EvergreenSlotIn(In):
    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    time: str = Field(max_length=16, description="local HH:MM")
    category: str = Field(min_length=1, max_length=CATEGORY)


class TimetableIn(In):
    slots: list[EvergreenSlotIn] = Field(max_length=MAX_SLOTS)
    account_ids: list[Id] = Field(min_length=1, max_length=50)
    timezone: str | None = Field(
        None, max_length=64, description="IANA zone; default the workspace's"
    )
    cooldown_seconds: int = Field(
        0, ge=0, le=366 * 86_400, description="least time between two uses of one post"
    )
    shuffle: bool = Field(False, description="a seeded random order within each round")
    seed: int = Field(0, ge=0, le=2**31 - 1)


# the domain names these after its own parameters; the client wrote the body's names
TIMETABLE_FIELD_NAMES = {
    "timetable": "slots",
    "accounts": "accountIds",
    "cooldown_seconds": "cooldownSeconds",
}
LIBRARY_FIELD_NAMES = {
    "max_uses": "maxUses",
    "expires_at": "expiresAt",
    "cooldown_seconds": "cooldownSeconds",
}


class EvergreenSlotOut(Out):
    weekday: int
    time: str
    category: str


class TimetableOut(Out):
    workspace_id: Id
    schedule_id: Id
    status: str
    slots: list[EvergreenSlotOut]
    account_ids: list[Id]
    timezone: str | None
    cooldown_seconds: int
    shuffle: bool
    seed: int
    paused_categories: list[str]
    updated_at: str

    @classmethod
    def of(cls, t: EvergreenTimetable, status: str) -> TimetableOut:
        return cls(
            workspace_id=t.workspace_id,
            schedule_id=t.schedule_id,
            status=status,
            slots=[EvergreenSlotOut(**dict(x)) for x in t.slots],
            account_ids=list(t.account_ids),
            timezone=t.timezone,
            cooldown_seconds=t.cooldown_seconds,
            shuffle=t.shuffle,
            seed=t.seed,
            paused_categories=list(t.paused_categories or []),
            updated_at=t.updated_at.isoformat(),
        )


class EvergreenPostIn(In):
    workspace_id: Id = Field(min_length=1, max_length=64)
    category: str = Field(min_length=1, max_length=CATEGORY)
    variations: list[Annotated[str, Field(max_length=MAX_VARIATION)]] = Field(
        min_length=1, max_length=20, description="texts taken in turn, per account"
    )
    max_uses: int | None = Field(None, ge=1, le=1_000_000)
    expires_at: Instant | None = Field(None, description="ISO 8601; not used after this")
    cooldown_seconds: int | None = Field(
        None, ge=0, le=366 * 86_400, description="overrides the timetable's cooldown"
    )


class EvergreenPostOut(Out):
    id: Id
    workspace_id: Id
    category: str
    variations: list[str]
    max_uses: int | None
    uses: int
    expires_at: str | None
    cooldown_seconds: int | None
    last_published_at: str | None
    created_at: str

    @classmethod
    def of(cls, r: EvergreenPost) -> EvergreenPostOut:
        return cls(
            id=r.id,
            workspace_id=r.workspace_id,
            category=r.category,
            variations=list(r.variations),
            max_uses=r.max_uses,
            uses=r.uses,
            expires_at=iso(r.expires_at),
            cooldown_seconds=r.cooldown_seconds,
            last_published_at=iso(r.last_published_at),
            created_at=r.created_at.isoformat(),
        )


class EvergreenPostList(Out):
    posts: list[EvergreenPostOut]


class CategoryState(Out):
    workspace_id: Id
    category: str
    paused: bool
    paused_categories: list[str]
    removed_jobs: int = Field(description="the category's planned, never-tried jobs removed")


# -- posting slots -----------------------------------------------------------------------
class PostingSlotIn(In):
    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    time: str = Field(max_length=16, description="local HH:MM")


class AccountSlotsIn(In):
    slots: list[PostingSlotIn] = Field(max_length=MAX_SLOTS)


class AccountSlotsOut(Out):
    account_id: Id
    slots: list[dict[str, Any]]
