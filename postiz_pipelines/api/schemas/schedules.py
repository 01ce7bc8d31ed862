"""Schedules: a single publish time or a recurring rule (in a post or on its own), and what
the schedule endpoints answer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from postiz_pipelines.api.schemas.base import Id, In, Instant, Out, iso
from postiz_pipelines.core.models import Schedule
from postiz_pipelines.core.scheduling.preview import (
    DEFAULT_PREVIEW,
    MAX_PREVIEW,
    Occurrence,
    ScheduleTimes,
)
from postiz_pipelines.core.scheduling.schedules import Recurrence


class SingleSchedule(In):
    """Publish once: at ``at``, ``"now"`` (the default) or ``"next_slot"`` (each account's
    next free posting slot). The post's ``scheduledAt`` is the same thing without the object."""

    kind: Literal["single"]
    at: Instant | None = Field(
        default=None, description="ISO 8601, 'now' or 'next_slot'; omit for now"
    )
    timezone: str | None = Field(default=None, max_length=64)


class RuleIn(In):
    """A recurring rule: an RFC 5545 ``rrule`` or a 5-field ``cron`` (one of them), read on
    the wall clock of ``timezone`` (else each account's, else the workspace's), from
    ``startsAt`` (default now), bounded by ``until`` and ``count``."""

    rrule: str | None = Field(
        default=None,
        max_length=1000,
        description="e.g. 'FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=0'",
    )
    cron: str | None = Field(default=None, max_length=200, description="e.g. '30 9 * * 1-5'")
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone")
    starts_at: Instant | None = Field(
        default=None, description="ISO 8601; local times read in timezone"
    )
    until: Instant | None = Field(
        default=None, description="ISO 8601; the last possible occurrence"
    )
    count: int | None = Field(
        default=None, ge=1, le=100_000, description="how many occurrences at most"
    )
    grace_seconds: int = Field(
        default=3600, ge=0, le=604_800, description="an occurrence this late still publishes"
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


class OccurrenceOut(Out):
    """One instant of a schedule: UTC, the zone it is read in, and that zone's wall time."""

    at: str = Field(description="the instant, UTC")
    zone: str = Field(description="the IANA zone the rule is read in for this instant")
    local: str = Field(description="the wall time in that zone, with its offset")
    category: str | None = Field(
        default=None, description="an evergreen slot's category (the post it draws from)"
    )

    @classmethod
    def of(cls, o: Occurrence) -> OccurrenceOut:
        return cls(**o.as_dict())


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
    zones: list[str] = Field(
        default_factory=list,
        description="the zones the rule is read in: its own, else each account's, else the "
        "workspace's, else UTC",
    )
    next_occurrences: list[OccurrenceOut] = Field(
        default_factory=list,
        description=f"the next {DEFAULT_PREVIEW} instants while the schedule is active",
    )
    zone_problem: str | None = Field(
        default=None, description="why the next instants cannot be computed (a stored zone)"
    )
    created_at: str
    updated_at: str

    @classmethod
    def of(
        cls, sc: Schedule, waiting_jobs: int = 0, times: ScheduleTimes | None = None
    ) -> ScheduleOut:
        return cls(
            zones=list(times.zones) if times else [],
            next_occurrences=[OccurrenceOut.of(o) for o in times.next] if times else [],
            zone_problem=times.problem if times else None,
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
    missed: int = Field(
        default=0, description="occurrences too late to publish (reported, not sent)"
    )


class OccurrenceList(Out):
    """A schedule's next instants, as its rule gives them (a paused schedule lists what it
    would do once resumed)."""

    schedule_id: Id | None = None
    status: str | None = None
    zones: list[str]
    occurrences: list[OccurrenceOut]


class RulePreview(RuleIn):
    """A rule not saved yet, read in its ``timezone``, else each of ``targetAccounts``'
    zones, else the workspace's (``count`` bounds the series, as when it is saved; how many
    instants to list is the query's ``count``)."""

    workspace_id: Id = Field(min_length=1, max_length=64)
    target_accounts: list[Id] = Field(default_factory=list, max_length=50)


PREVIEW_COUNT_DOC = f"how many instants to list, 1..{MAX_PREVIEW}"
