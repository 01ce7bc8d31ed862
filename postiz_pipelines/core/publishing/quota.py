"""Daily budgets the whole app shares per platform (YouTube's per-project quota), in the
database so every run and worker spends from the same day.

A provider states what an attempt costs (``Provider.quota_cost``: units, the day's budget and
the zone its day is read in; YouTube's renews at midnight Pacific). Before the attempt is
counted, ``reserve`` adds those units to the day's ``quota_ledger`` row in one conditional
UPDATE, so two processes cannot both take the last units; when they do not fit, nothing is
added and the job is deferred until the next day begins (no attempt spent). Units are spent
when reserved: a call that fails after its reservation has still cost the platform's units
(YouTube charges refused calls too), so the ledger errs on the side of waiting. A new day is
a new row: the budget resets without anyone resetting it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from postiz_pipelines.core.db import insert_ignoring_conflicts
from postiz_pipelines.core.models import QuotaLedger
from postiz_pipelines.core.publishing.readback import Plan
from postiz_pipelines.providers.base import PostContent, Provider, QuotaCost


def scope_of(platform: str) -> str:
    return f"platform:{platform}"


def period_of(now: datetime, zone: str) -> str:
    """The platform's day that ``now`` falls in (``2026-11-28``), read in ``zone``."""
    return now.astimezone(ZoneInfo(zone)).date().isoformat()


def next_reset(now: datetime, zone: str) -> datetime:
    """The first instant of the platform's next day (midnight in ``zone``), in UTC."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    midnight = datetime(local.year, local.month, local.day, tzinfo=tz) + timedelta(days=1)
    return midnight.astimezone(UTC)


def reserve(session: Session, platform: str, cost: QuotaCost, *, now: datetime) -> datetime | None:
    """Add ``cost.units`` to today's ledger when they fit the budget, and return None; when
    they do not, add nothing and return when the budget renews. The caller commits."""
    if cost.units <= 0:
        return None
    scope, period = scope_of(platform), period_of(now, cost.zone)
    insert_ignoring_conflicts(
        session,
        QuotaLedger,
        [
            {
                "scope": scope,
                "period": period,
                "units_used": 0,
                "budget": cost.budget,
                "updated_at": now,
            }
        ],
        on=["scope", "period"],
    )
    taken = session.execute(
        update(QuotaLedger)
        .where(
            QuotaLedger.scope == scope,
            QuotaLedger.period == period,
            QuotaLedger.units_used + cost.units <= cost.budget,
        )
        .values(units_used=QuotaLedger.units_used + cost.units, budget=cost.budget, updated_at=now)
        .returning(QuotaLedger.units_used)
        .execution_options(synchronize_session=False)
    ).all()
    return None if taken else next_reset(now, cost.zone)


def used(session: Session, platform: str, *, zone: str, now: datetime) -> int:
    """Units spent so far in the platform's current day."""
    row = session.scalar(
        select(QuotaLedger.units_used).where(
            QuotaLedger.scope == scope_of(platform), QuotaLedger.period == period_of(now, zone)
        )
    )
    return int(row or 0)


def deferral_reason(platform: str, cost: QuotaCost, *, spent: int, until: datetime) -> str:
    """Why a job waits: the units it needs, what is left, and when the budget renews."""
    left = max(cost.budget - spent, 0)
    return (
        f"{platform}: this attempt needs {cost.units} quota units and {left} of the daily "
        f"{cost.budget} are left; waiting for the reset at {until.isoformat()}"
    )


def hold(
    session: Session,
    platform: str,
    provider: Provider,
    content: PostContent,
    plan: Plan,
    *,
    now: datetime,
) -> tuple[datetime, str] | None:
    """Take what the attempt (``plan``) costs of the platform's shared daily budget: None
    when it fit (or the platform has none), else until when the job waits, and why."""
    cost = provider.quota_cost(
        content, reads_back=plan != Plan.PUBLISH, publishes=plan != Plan.READ_ONLY
    )
    if cost is None:
        return None
    until = reserve(session, platform, cost, now=now)
    if until is None:
        return None
    spent = used(session, platform, zone=cost.zone, now=now)
    return until, deferral_reason(platform, cost, spent=spent, until=until)
