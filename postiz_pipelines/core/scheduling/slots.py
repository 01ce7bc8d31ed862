"""Weekly posting slots: a weekday and a local "HH:MM", turned into instants in a zone.

Weekdays count from Monday = 0 to Sunday = 6 (Python's ``date.weekday()``). A slot's wall
time becomes an instant under the wall-time rule of ``core/recurrence.py``: a slot inside a
spring-forward gap moves forward by the gap, a slot inside a fall-back hour happens once.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.models import JobStatus, PublishJob, SocialAccount, Workspace
from postiz_pipelines.core.scheduling.recurrence import (
    local_to_utc,
    require_aware,
    resolve_zone,
    utc_to_local,
)
from postiz_pipelines.errors import Problem, ValidationFailed

_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_WEEK = timedelta(days=7)


class WeeklyEntry(Protocol):
    """Anything placed on a weekly timetable: a weekday and a local "HH:MM"."""

    @property
    def weekday(self) -> int: ...

    @property
    def time(self) -> str: ...


@dataclass(frozen=True)
class PostingSlot:
    """One of an account's weekly posting slots, e.g. ``PostingSlot(0, "09:00")`` (Monday)."""

    weekday: int
    time: str


def parse_local_time(value: object) -> time | None:
    """``value`` ("HH:MM", 00:00 to 23:59) as a time, or None when it is not one."""
    if not isinstance(value, str):
        return None
    match = _TIME_RE.match(value.strip())
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def entry_problems(entry: WeeklyEntry, field: str) -> list[Problem]:
    """Problems of one timetable entry, naming ``{field}.weekday`` and ``{field}.time``."""
    problems: list[Problem] = []
    weekday = entry.weekday
    if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
        problems.append(
            Problem(
                f"{field}.weekday",
                "must be 0 (Monday) to 6 (Sunday)",
                value=weekday,
                limit="0-6",
            )
        )
    if parse_local_time(entry.time) is None:
        problems.append(
            Problem(
                f"{field}.time",
                "must be a local time HH:MM from 00:00 to 23:59",
                value=entry.time,
                limit="00:00-23:59",
            )
        )
    return problems


def validate_slots(slots: Sequence[PostingSlot], field: str = "slots") -> list[Problem]:
    """Every problem of an account's slot list: ranges, formats and repeated slots."""
    problems: list[Problem] = []
    seen: set[tuple[int, time]] = set()
    for i, slot in enumerate(slots):
        own = entry_problems(slot, f"{field}[{i}]")
        problems.extend(own)
        if own:
            continue
        moment = parse_local_time(slot.time)
        assert moment is not None  # entry_problems vouched for it
        if (slot.weekday, moment) in seen:
            problems.append(Problem(f"{field}[{i}]", "repeats an earlier slot", value=slot.time))
        seen.add((slot.weekday, moment))
    return problems


def parse_slots(raw: Sequence[Mapping[str, object]], field: str = "slots") -> list[PostingSlot]:
    """Slots from stored JSON (``[{"weekday": 0, "time": "09:00"}, ...]``), validated.

    Raises ``ValidationFailed`` naming ``slots[i].weekday`` / ``slots[i].time``.
    """
    # Stored JSON can hold anything; validate_slots checks the types it claims.
    slots = [
        PostingSlot(item.get("weekday"), item.get("time"))  # type: ignore[arg-type]
        for item in raw
    ]
    problems = validate_slots(slots, field)
    if problems:
        raise ValidationFailed(problems)
    return slots


def weekly_instants(
    entries: Sequence[WeeklyEntry],
    zone: ZoneInfo,
    window_start: datetime,
    window_end: datetime,
) -> list[tuple[datetime, int]]:
    """Each (UTC instant, entry index) in ``[window_start, window_end)``, by instant then index.

    Two entries can share an instant (a gap shifts one onto the other); callers decide
    whether that is one slot or two. Entries must already be valid.
    """
    lower = require_aware(window_start, "window_start")
    upper = require_aware(window_end, "window_end")
    parsed = [(entry.weekday, parse_local_time(entry.time)) for entry in entries]
    found: list[tuple[datetime, int]] = []
    # One extra local day each side: a window edge in UTC can fall on another local date.
    day = utc_to_local(lower, zone).date() - timedelta(days=1)
    last_day = utc_to_local(upper, zone).date() + timedelta(days=1)
    while day <= last_day:
        for index, (weekday, moment) in enumerate(parsed):
            if weekday != day.weekday() or moment is None:
                continue
            instant = local_to_utc(datetime.combine(day, moment), zone)
            if lower <= instant < upper:
                found.append((instant, index))
        day += timedelta(days=1)
    found.sort()
    return found


def next_free_slot(
    slots: Sequence[PostingSlot],
    zone: ZoneInfo,
    now: datetime,
    taken: Collection[datetime] = frozenset(),
) -> datetime:
    """The first slot instant (UTC) strictly after ``now`` that is not in ``taken``.

    ``taken`` holds the aware instants already booked on the account. Raises
    ``ValidationFailed`` when the slots are invalid or there are none.
    """
    problems = validate_slots(slots)
    if not slots:
        problems.append(Problem("slots", "the account has no posting slots"))
    if problems:
        raise ValidationFailed(problems)
    current = require_aware(now, "now")
    booked = {require_aware(at, "taken") for at in taken}
    # Every week after the first offers at least one instant later than now, so
    # len(booked) + 2 weeks always hold a free one.
    for week in range(len(booked) + 2):
        lower = current + week * _WEEK
        for instant, _ in weekly_instants(slots, zone, lower, lower + _WEEK):
            if instant > current and instant not in booked:
                return instant
    raise AssertionError("unreachable: a free slot exists within len(taken) + 2 weeks")


def next_slot_for(
    session: Session, account: SocialAccount, workspace: Workspace, now: datetime
) -> datetime:
    """The account's next posting slot with no job of its own already planned."""
    slots = parse_slots((account.settings or {}).get("slots") or [], field="slots")
    if not slots:
        raise ValidationFailed(Problem("slots", f"account {account.handle!r} has no posting slots"))
    zone = resolve_zone((account.settings or {}).get("timezone"), workspace.timezone)
    taken = set(
        session.scalars(
            select(PublishJob.run_at).where(
                PublishJob.account_id == account.id,
                PublishJob.run_at > now,
                PublishJob.status.not_in([JobStatus.CANCELED, JobStatus.FAILED]),
            )
        )
    )
    return next_free_slot(slots, zone, now, taken)


def set_posting_slots(
    session: Session,
    account: SocialAccount,
    slots: list[dict[str, Any]],
    *,
    now: datetime,
    actor: str,
) -> list[dict[str, Any]]:
    """Replace the account's weekly posting slots (``[{"weekday": 0-6, "time": "HH:MM"}]``),
    validated (naming ``slots[i].time``), audited; "add to queue" takes the next free one."""
    from postiz_pipelines.core.scheduling.slots import parse_slots

    parse_slots(slots)
    account.settings = {
        **(account.settings or {}),
        "slots": list(slots),
    }  # a new dict: JSON change seen
    account.updated_at = now
    audit(
        session,
        actor=actor,
        action="account.slots",
        object_type="social_account",
        object_id=account.id,
        workspace_id=account.workspace_id,
        now=now,
        slots=len(slots),
    )
    return list(slots)
