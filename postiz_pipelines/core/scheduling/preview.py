"""When a schedule runs next: its zones and its next instants, before or after it is saved.

Everything here reads; nothing is written. The instants come from ``recurrence.occurrences``
(the one recurrence engine) in each zone the schedule is read in: the schedule's own zone,
else each target account's, else the workspace's, else UTC (``resolve_zone``, as expansion
does), so a post to two accounts in Berlin and New York shows both 09:00s. A stored zone that
is no longer valid is reported (``ScheduleTimes.problem``) rather than raised, so a listing
still answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.models import (
    Post,
    PostTarget,
    Schedule,
    ScheduleKind,
    ScheduleStatus,
    SocialAccount,
    Workspace,
)
from postiz_pipelines.core.scheduling.recurrence import (
    RecurrenceSpec,
    occurrences,
    resolve_zone,
)
from postiz_pipelines.core.scheduling.schedules import Recurrence, check_recurrence
from postiz_pipelines.errors import Problem, ValidationFailed

MAX_PREVIEW = 100  # instants one preview may list
DEFAULT_PREVIEW = 5
_FAR = datetime(9000, 1, 1, tzinfo=UTC)  # the latest instant any input may name


@dataclass(frozen=True)
class Occurrence:
    """One instant of a series, with the zone it was read in and its local wall time."""

    at: datetime  # aware UTC
    zone: str

    @property
    def local(self) -> str:
        """The wall time with its offset in ``zone`` (``2027-03-28T09:00:00+02:00``)."""
        return self.at.astimezone(ZoneInfo(self.zone)).isoformat()

    def as_dict(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "zone": self.zone, "local": self.local}


@dataclass(frozen=True)
class ScheduleTimes:
    """A schedule's zones and next instants (empty once it is over, paused or broken)."""

    zones: tuple[str, ...]
    next: tuple[Occurrence, ...]
    problem: str | None = None


def check_count(count: int, *, field: str = "count") -> int:
    """``count`` when it is 1..MAX_PREVIEW; ValidationFailed naming ``field`` and the bound."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PREVIEW:
        raise ValidationFailed(
            Problem(field, f"is {count!r}, allowed 1..{MAX_PREVIEW}", count, MAX_PREVIEW)
        )
    return count


def next_instants(
    spec: RecurrenceSpec, *, start: datetime, after: datetime, count: int
) -> list[Occurrence]:
    """The first ``count`` instants of the series at or after ``after`` (fewer when it ends)."""
    found = occurrences(spec, start=start, window_start=after, window_end=_FAR, limit=count)
    return [Occurrence(at, spec.timezone) for at in found]


def merged(series: Sequence[list[Occurrence]], count: int) -> list[Occurrence]:
    """The earliest ``count`` instants of several zones' series, in order."""
    every = sorted((o for one in series for o in one), key=lambda o: (o.at, o.zone))
    return every[:count]


def _spec(rec_zone: str, schedule: Schedule) -> RecurrenceSpec:
    return RecurrenceSpec(
        rrule=schedule.rrule,
        cron=schedule.cron,
        timezone=rec_zone,
        until=schedule.until,
        count=schedule.count,
    )


def target_zones(
    session: Session, *, schedule_zone: str | None, workspace: Workspace, account_ids: Sequence[str]
) -> list[str]:
    """The zones a rule is read in for these accounts (schedule's, account's, workspace's)."""
    accounts = (
        list(session.scalars(select(SocialAccount).where(SocialAccount.id.in_(list(account_ids)))))
        if account_ids
        else []
    )
    live = [a for a in accounts if a.deleted_at is None]
    if not live:
        return [resolve_zone(schedule_zone, workspace.timezone).key]
    return sorted(
        {
            resolve_zone(schedule_zone, (a.settings or {}).get("timezone"), workspace.timezone).key
            for a in live
        }
    )


def schedule_zones(session: Session, schedule: Schedule) -> list[str]:
    """The zones ``schedule`` is read in; ValidationFailed when a stored zone is unknown."""
    workspace = session.get(Workspace, schedule.workspace_id)
    assert workspace is not None
    ids: list[str] = []
    if schedule.post_id is not None:
        ids = list(
            session.scalars(
                select(PostTarget.account_id).where(PostTarget.post_id == schedule.post_id)
            )
        )
    return target_zones(
        session, schedule_zone=schedule.timezone, workspace=workspace, account_ids=ids
    )


def schedule_occurrences(
    session: Session, schedule: Schedule, *, now: datetime, count: int
) -> list[Occurrence]:
    """The schedule's next ``count`` instants after ``now`` as its rule gives them (a paused
    schedule lists what it would do once resumed; an evergreen timetable lists none)."""
    check_count(count)
    zones = schedule_zones(session, schedule)
    if schedule.kind == ScheduleKind.SINGLE:
        if schedule.run_at is None or schedule.run_at < now:
            return []
        return [Occurrence(schedule.run_at, zones[0])]
    if schedule.kind != ScheduleKind.RECURRING or schedule.starts_at is None:
        return []
    after = max(now, schedule.starts_at)
    return merged(
        [
            next_instants(_spec(z, schedule), start=schedule.starts_at, after=after, count=count)
            for z in zones
        ],
        count,
    )


def schedule_times(
    session: Session, schedule: Schedule, *, now: datetime, count: int = DEFAULT_PREVIEW
) -> ScheduleTimes:
    """What a schedule's view shows: its zones and, while it is active, its next instants."""
    try:
        zones = tuple(schedule_zones(session, schedule))
        upcoming: list[Occurrence] = []
        live = schedule.status == ScheduleStatus.ACTIVE and schedule.deleted_at is None
        if live:
            upcoming = schedule_occurrences(session, schedule, now=now, count=count)
    except ValidationFailed as exc:
        return ScheduleTimes((schedule.timezone or "",), (), str(exc))
    return ScheduleTimes(zones, tuple(upcoming))


def preview_rule(
    session: Session,
    rec: Recurrence,
    *,
    workspace: Workspace,
    now: datetime,
    count: int,
    account_ids: Sequence[str] = (),
) -> tuple[list[str], list[Occurrence]]:
    """The zones and first ``count`` instants of a rule not saved yet, for these accounts
    (none: the rule's zone, else the workspace's). ValidationFailed with every problem of the
    rule (fields prefixed ``schedule.``), as creating it would."""
    problems: list[Problem] = []
    try:
        check_count(count)
    except ValidationFailed as exc:
        problems += exc.problems
    starts, until, rule_problems = check_recurrence(rec, workspace, now)
    problems += rule_problems
    zones: list[str] = []
    if not problems:
        try:
            zones = target_zones(
                session, schedule_zone=rec.timezone, workspace=workspace, account_ids=account_ids
            )
        except ValidationFailed as exc:
            problems += exc.problems
    if problems:
        raise ValidationFailed(problems)
    assert starts is not None
    after = max(now, starts)
    series = [
        next_instants(
            RecurrenceSpec(
                rrule=rec.rrule, cron=rec.cron, timezone=z, until=until, count=rec.count
            ),
            start=starts,
            after=after,
            count=count,
        )
        for z in zones
    ]
    return zones, merged(series, count)


def first_instant(
    session: Session,
    rec: Recurrence,
    *,
    workspace: Workspace,
    starts: datetime,
    until: datetime | None,
    account_ids: Sequence[str],
) -> datetime | None:
    """The first instant a new recurring post will publish (its ``scheduledAt``), or None
    when a zone is unknown (validation reports it) or the series has no instant."""
    try:
        zones = target_zones(
            session, schedule_zone=rec.timezone, workspace=workspace, account_ids=account_ids
        )
        firsts = [
            next_instants(
                RecurrenceSpec(
                    rrule=rec.rrule, cron=rec.cron, timezone=z, until=until, count=rec.count
                ),
                start=starts,
                after=starts,
                count=1,
            )
            for z in zones
        ]
    except ValidationFailed:
        return None
    found = merged(firsts, 1)
    return found[0].at if found else None


def restate_first(session: Session, schedule: Schedule) -> None:
    """After a recurring schedule's rule changed: its post's ``scheduled_at`` becomes the new
    series' first instant (left as it was when there is none)."""
    post = session.get(Post, schedule.post_id) if schedule.post_id else None
    if post is None or schedule.kind != ScheduleKind.RECURRING or schedule.starts_at is None:
        return
    try:
        zones = schedule_zones(session, schedule)
        firsts = [
            next_instants(
                _spec(z, schedule), start=schedule.starts_at, after=schedule.starts_at, count=1
            )
            for z in zones
        ]
    except ValidationFailed:
        return
    found = merged(firsts, 1)
    if found:
        post.scheduled_at = found[0].at


def post_schedule(session: Session, post: Post) -> Schedule | None:
    """The schedule a post was created with."""
    return session.scalar(select(Schedule).where(Schedule.post_id == post.id))


__all__ = [
    "DEFAULT_PREVIEW",
    "MAX_PREVIEW",
    "Occurrence",
    "ScheduleTimes",
    "check_count",
    "first_instant",
    "next_instants",
    "post_schedule",
    "preview_rule",
    "restate_first",
    "schedule_occurrences",
    "schedule_times",
]
