"""Schedules to instants: single posts, recurring expansion, late and missed occurrences.

The entry point of the scheduling core. Every function is pure and takes ``now`` (aware)
explicitly; times come back as aware UTC. The wall-time rule for local times (gaps move
forward by their length, repeated hours fire once) lives in ``core/recurrence.py``, and the
zone of a schedule is ``resolve_zone(schedule.timezone, account_zone, workspace.timezone)``.

Missed occurrences are never fired as a burst: of the occurrences already past, only the
latest one no older than the grace window is published (late); all the others are missed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from postiz_pipelines.core.scheduling.recurrence import (
    RecurrenceSpec,
    local_to_utc,
    next_occurrence,
    occurrences,
    require_aware,
    resolve_zone,
    validate_recurrence,
)
from postiz_pipelines.core.scheduling.slots import PostingSlot, next_free_slot
from postiz_pipelines.errors import Problem, ValidationFailed

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_HORIZON",
    "NEXT_SLOT",
    "RUN_NOW",
    "DuePlan",
    "Expansion",
    "RecurrenceSpec",
    "claim_order",
    "expand_recurring",
    "local_to_utc",
    "next_occurrence",
    "occurrences",
    "plan_due",
    "resolve_single",
    "resolve_zone",
    "validate_recurrence",
]

DEFAULT_GRACE = timedelta(hours=1)  # matches Schedule.grace_seconds' default
DEFAULT_HORIZON = timedelta(hours=24)
RUN_NOW = "now"
NEXT_SLOT = "next_slot"


class DuePlan(NamedTuple):
    """What to do with a schedule's occurrences: publish these, report those as missed."""

    to_publish: list[datetime]
    missed: list[datetime]


def _grace(grace: timedelta) -> timedelta:
    if grace < timedelta(0):
        raise ValidationFailed(
            Problem("grace_seconds", "must not be negative", value=grace.total_seconds(), limit=0)
        )
    return grace


def plan_due(
    occurrences: Iterable[datetime], now: datetime, grace: timedelta = DEFAULT_GRACE
) -> DuePlan:
    """Split one schedule's occurrences into those to publish and those missed.

    Future occurrences are published at their time. Of those at or before ``now``, the
    latest is published late if it is no older than ``grace``; every other past one is
    missed, so catching up after downtime never fires a burst. Both lists are sorted.
    """
    current = require_aware(now, "now")
    window = _grace(grace)
    ordered = sorted(require_aware(at, "occurrence") for at in occurrences)
    past = [at for at in ordered if at <= current]
    future = [at for at in ordered if at > current]
    if past and current - past[-1] <= window:
        return DuePlan([past[-1], *future], past[:-1])
    return DuePlan(future, past)


def claim_order(
    *, priority: int, due_at: datetime, tiebreak: str = ""
) -> tuple[int, datetime, str]:
    """Sort key for claiming due work: higher priority first, then earlier due time.

    The SQL twin is ``ORDER BY priority DESC, next_attempt_at, id``.
    """
    return (-priority, require_aware(due_at, "due_at"), tiebreak)


def resolve_single(
    run_at: datetime | str,
    *,
    now: datetime,
    zone: ZoneInfo | None = None,
    slots: Sequence[PostingSlot] = (),
    taken: Collection[datetime] = frozenset(),
    grace: timedelta = DEFAULT_GRACE,
) -> datetime:
    """The UTC instant of a single schedule.

    ``run_at`` is an aware instant; a naive local wall time read in ``zone``; ``"now"``;
    or ``"next_slot"``, the account's next free posting slot after ``now`` (``slots`` and
    ``taken`` are the account's). An instant older than ``grace`` is refused (field
    ``run_at``); a more recent one is kept and published late.
    """
    current = require_aware(now, "now")
    if run_at == RUN_NOW:
        return current
    if run_at == NEXT_SLOT:
        return next_free_slot(slots, zone or ZoneInfo("UTC"), current, taken)
    if not isinstance(run_at, datetime):
        raise ValidationFailed(
            Problem("run_at", "must be an instant, 'now' or 'next_slot'", value=str(run_at))
        )
    if run_at.tzinfo is None:
        if zone is None:
            raise ValidationFailed(
                Problem(
                    "run_at",
                    "needs a UTC offset or a time zone",
                    value=run_at.isoformat(),
                )
            )
        instant = local_to_utc(run_at, zone)
    else:
        instant = run_at.astimezone(UTC)
    if current - instant > _grace(grace):
        raise ValidationFailed(
            Problem(
                "run_at",
                "is in the past",
                value=instant.isoformat(),
                limit=(current - grace).isoformat(),
            )
        )
    return instant


@dataclass(frozen=True)
class Expansion:
    """One expansion pass of a recurring schedule.

    ``to_publish`` become jobs (``run_at`` = the instant, also in their key), ``missed``
    are reported, ``expanded_until`` is stored on the schedule, and ``finished`` means
    the series has no instant left (the schedule can be marked completed).
    """

    to_publish: list[datetime]
    missed: list[datetime]
    expanded_until: datetime
    finished: bool


def expand_recurring(
    spec: RecurrenceSpec,
    *,
    start: datetime,
    expanded_until: datetime | None,
    now: datetime,
    horizon: timedelta = DEFAULT_HORIZON,
    grace: timedelta = DEFAULT_GRACE,
) -> Expansion:
    """Occurrences from ``expanded_until`` (else ``start``) to ``now + horizon``, planned.

    Idempotent given the stored ``expanded_until``: the window starts where the previous
    pass ended, and each window is half-open, so no instant is produced twice.
    """
    current = require_aware(now, "now")
    first = require_aware(start, "starts_at")
    lower = (
        first
        if expanded_until is None
        else max(require_aware(expanded_until, "expanded_until"), first)
    )
    upper = max(current + horizon, lower)
    found = occurrences(spec, start=start, window_start=lower, window_end=upper)
    plan = plan_due(found, current, grace)
    finished = next_occurrence(spec, start=start, after=upper) is None
    return Expansion(plan.to_publish, plan.missed, upper, finished)
