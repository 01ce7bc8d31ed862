"""The evergreen timetable (weekly slots drawing from categories), its library and category
pauses. Weekdays count from Monday = 0 to Sunday = 6; times are local "HH:MM".
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from postiz_pipelines.api.schemas.base import MAX_SLOTS, Id, In, Instant, Out, iso
from postiz_pipelines.api.schemas.schedules import OccurrenceOut
from postiz_pipelines.core.models import EvergreenPost, EvergreenTimetable
from postiz_pipelines.core.scheduling.preview import DEFAULT_PREVIEW, ScheduleTimes

CATEGORY = 100  # the column's width


MAX_VARIATION = 100_000


class EvergreenSlotIn(In):
    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    time: str = Field(max_length=16, description="local HH:MM")
    category: str = Field(min_length=1, max_length=CATEGORY)


class TimetableIn(In):
    slots: list[EvergreenSlotIn] = Field(max_length=MAX_SLOTS)
    account_ids: list[Id] = Field(min_length=1, max_length=50)
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA zone; default the workspace's"
    )
    cooldown_seconds: int = Field(
        default=0, ge=0, le=366 * 86_400, description="least time between two uses of one post"
    )
    shuffle: bool = Field(default=False, description="a seeded random order within each round")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


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
    zones: list[str] = Field(
        default_factory=list,
        description="the zone the slots are read in (its own, else the workspace's, else UTC)",
    )
    next_occurrences: list[OccurrenceOut] = Field(
        default_factory=list,
        description=f"the next {DEFAULT_PREVIEW} slot instants while the timetable is active "
        "(a paused category's left out; none without slots)",
    )
    zone_problem: str | None = Field(
        default=None, description="why the next instants cannot be computed (a stored zone)"
    )

    @classmethod
    def of(
        cls, t: EvergreenTimetable, status: str, times: ScheduleTimes | None = None
    ) -> TimetableOut:
        return cls(
            zones=list(times.zones) if times else [],
            next_occurrences=[OccurrenceOut.of(o) for o in times.next] if times else [],
            zone_problem=times.problem if times else None,
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
    max_uses: int | None = Field(default=None, ge=1, le=1_000_000)
    expires_at: Instant | None = Field(default=None, description="ISO 8601; not used after this")
    cooldown_seconds: int | None = Field(
        default=None, ge=0, le=366 * 86_400, description="overrides the timetable's cooldown"
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
