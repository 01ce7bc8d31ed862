"""When a schedule runs next: its zones and its next instants, before or after it is saved.

Everything here reads; nothing is written. The instants come from ``recurrence.occurrences``
(the one recurrence engine) in each zone the schedule is read in: the schedule's own zone,
else each target account's, else the workspace's, else UTC (``resolve_zone``, as expansion
does), so a post to two accounts in Berlin and New York shows both 09:00s. An evergreen
timetable's instants come from its slots (``evergreen.slot_instants``) in the timetable's
zone, else the workspace's; a paused category's slots are left out. A stored zone that is
no longer valid is reported (``ScheduleTimes.problem``) rather than raised, so a listing
still answers. ``schedules_times`` reads a page of schedules with a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.models import (
    EvergreenTimetable,
    Post,
    PostTarget,
    Schedule,
    ScheduleKind,
    ScheduleStatus,
    SocialAccount,
    Workspace,
)
from postiz_pipelines.core.scheduling.evergreen import EvergreenSlot, slot_instants
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
    category: str | None = None  # an evergreen slot's

    @property
    def local(self) -> str:
        """The wall time with its offset in ``zone`` (``2027-03-28T09:00:00+02:00``)."""
        return self.at.astimezone(ZoneInfo(self.zone)).isoformat()

    def as_dict(self) -> dict[str, str]:
        out = {"at": self.at.isoformat(), "zone": self.zone, "local": self.local}
        return out | ({"category": self.category} if self.category is not None else {})


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


def _zones_of(
    schedule_zone: str | None, workspace: Workspace, accounts: Sequence[SocialAccount]
) -> list[str]:
    live = [a for a in accounts if a.deleted_at is None]
    if not live:
        return [resolve_zone(schedule_zone, workspace.timezone).key]
    return sorted(
        {
            resolve_zone(schedule_zone, (a.settings or {}).get("timezone"), workspace.timezone).key
            for a in live
        }
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
    return _zones_of(schedule_zone, workspace, accounts)


@dataclass
class _Context:
    """What a page of schedules is read with, each fetched once for the page."""

    workspaces: dict[str, Workspace]
    accounts_of_post: dict[str, list[SocialAccount]]
    timetables: dict[str, EvergreenTimetable]  # by schedule id

    @classmethod
    def load(cls, session: Session, schedules: Sequence[Schedule]) -> _Context:
        ws_ids = {x.workspace_id for x in schedules}
        post_ids = [x.post_id for x in schedules if x.post_id is not None]
        workspaces = {
            w.id: w for w in session.scalars(select(Workspace).where(Workspace.id.in_(ws_ids)))
        }
        accounts_of_post: dict[str, list[SocialAccount]] = {p: [] for p in post_ids}
        if post_ids:
            rows = session.execute(
                select(PostTarget.post_id, SocialAccount)
                .join(SocialAccount, SocialAccount.id == PostTarget.account_id)
                .where(PostTarget.post_id.in_(post_ids))
            )
            for post_id, account in rows:
                accounts_of_post[post_id].append(account)
        evergreen = [x.id for x in schedules if x.kind == ScheduleKind.EVERGREEN]
        timetables = (
            {
                t.schedule_id: t
                for t in session.scalars(
                    select(EvergreenTimetable).where(EvergreenTimetable.schedule_id.in_(evergreen))
                )
            }
            if evergreen
            else {}
        )
        return cls(workspaces, accounts_of_post, timetables)

    def zones(self, schedule: Schedule) -> list[str]:
        workspace = self.workspaces[schedule.workspace_id]
        table = self.timetables.get(schedule.id)
        if table is not None:
            return [resolve_zone(table.timezone, workspace.timezone).key]
        accounts = self.accounts_of_post.get(schedule.post_id or "", [])
        return _zones_of(schedule.timezone, workspace, accounts)


def schedule_zones(session: Session, schedule: Schedule) -> list[str]:
    """The zones ``schedule`` is read in; ValidationFailed when a stored zone is unknown."""
    return _Context.load(session, [schedule]).zones(schedule)


def evergreen_instants(
    table: EvergreenTimetable, zone: str, *, now: datetime, count: int
) -> list[Occurrence]:
    """The timetable's next ``count`` slot instants at or after ``now`` (none when it has no
    slot, or every slot's category is paused)."""
    paused = set(table.paused_categories or [])
    slots = [
        EvergreenSlot(int(x["weekday"]), str(x["time"]), str(x["category"]))
        for x in table.slots or []
        if str(x["category"]) not in paused
    ]
    if not slots:
        return []
    weeks = -(-count // len(slots)) + 1  # a week holds each slot once (a DST gap may merge two)
    found = slot_instants(slots, ZoneInfo(zone), now, now + timedelta(weeks=weeks))
    return [Occurrence(at, zone, slot.category) for at, slot in found[:count]]


def _occurrences(
    ctx: _Context, schedule: Schedule, zones: Sequence[str], *, now: datetime, count: int
) -> list[Occurrence]:
    if schedule.kind == ScheduleKind.SINGLE:
        if schedule.run_at is None or schedule.run_at < now:
            return []
        return [Occurrence(schedule.run_at, zones[0])]
    if schedule.kind == ScheduleKind.EVERGREEN:
        table = ctx.timetables.get(schedule.id)
        return evergreen_instants(table, zones[0], now=now, count=count) if table else []
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


def schedule_occurrences(
    session: Session, schedule: Schedule, *, now: datetime, count: int
) -> list[Occurrence]:
    """The schedule's next ``count`` instants after ``now`` as its rule (or timetable) gives
    them (a paused schedule lists what it would do once resumed)."""
    check_count(count)
    ctx = _Context.load(session, [schedule])
    return _occurrences(ctx, schedule, ctx.zones(schedule), now=now, count=count)


def schedules_times(
    session: Session, schedules: Sequence[Schedule], *, now: datetime, count: int = DEFAULT_PREVIEW
) -> dict[str, ScheduleTimes]:
    """What each schedule's view shows (by id): its zones and, while it is active, its next
    instants. The accounts, workspaces and timetables are read once for all of them."""
    ctx = _Context.load(session, schedules) if schedules else _Context({}, {}, {})
    out: dict[str, ScheduleTimes] = {}
    for schedule in schedules:
        try:
            zones = ctx.zones(schedule)
            upcoming: list[Occurrence] = []
            if schedule.status == ScheduleStatus.ACTIVE and schedule.deleted_at is None:
                upcoming = _occurrences(ctx, schedule, zones, now=now, count=count)
        except ValidationFailed as exc:
            out[schedule.id] = ScheduleTimes((schedule.timezone or "",), (), str(exc))
            continue
        out[schedule.id] = ScheduleTimes(tuple(zones), tuple(upcoming))
    return out


def schedule_times(
    session: Session, schedule: Schedule, *, now: datetime, count: int = DEFAULT_PREVIEW
) -> ScheduleTimes:
    """What a schedule's view shows: its zones and, while it is active, its next instants."""
    return schedules_times(session, [schedule], now=now, count=count)[schedule.id]


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


def post_schedules(session: Session, post_ids: Sequence[str]) -> dict[str, Schedule]:
    """The schedules of these posts, by post id, in one query."""
    if not post_ids:
        return {}
    rows = session.scalars(select(Schedule).where(Schedule.post_id.in_(list(post_ids))))
    return {x.post_id: x for x in rows if x.post_id is not None}


__all__ = [
    "DEFAULT_PREVIEW",
    "MAX_PREVIEW",
    "Occurrence",
    "ScheduleTimes",
    "check_count",
    "evergreen_instants",
    "first_instant",
    "next_instants",
    "post_schedule",
    "post_schedules",
    "preview_rule",
    "restate_first",
    "schedule_occurrences",
    "schedule_times",
    "schedules_times",
]
