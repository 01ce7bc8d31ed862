"""A circuit breaker per platform, kept in the database so every run and worker shares it.

Closed: calls go through; ``failure_threshold`` transient failures in a row open it.
Open: claimed jobs are deferred without spending attempts, and the sensor launches no runs
for the platform, until ``open_until``. Then one caller becomes the half-open probe: its
success closes the breaker, its failure opens it again for twice as long (capped).
Only failures that say the platform is unwell count (5xx, timeouts, dropped connections);
rate limits and rejected content do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.db import insert_ignoring_conflicts
from postiz_pipelines.core.models import BreakerState, CircuitBreaker


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5
    cooldown_seconds: float = 60.0
    max_cooldown_seconds: float = 900.0
    probe_timeout_seconds: float = 120.0  # a probe that never reports frees the slot

    def cooldown(self, opened_count: int) -> timedelta:
        return timedelta(
            seconds=min(
                self.cooldown_seconds * 2 ** max(opened_count - 1, 0), self.max_cooldown_seconds
            )
        )


@dataclass(frozen=True)
class Gate:
    allow: bool
    until: datetime | None = None  # when to try again, if not allowed
    probe: bool = False


def _row(session: Session, platform: str) -> CircuitBreaker | None:
    return session.get(CircuitBreaker, platform, with_for_update=True)


def _row_for_update(session: Session, platform: str, now: datetime) -> CircuitBreaker:
    """The platform's row, created if missing (safely: two runs may fail at once), locked."""
    insert_ignoring_conflicts(
        session,
        CircuitBreaker,
        [
            {
                "platform": platform,
                "state": BreakerState.CLOSED.value,
                "consecutive_failures": 0,
                "opened_count": 0,
                "updated_at": now,
            }
        ],
        on=["platform"],
    )
    row = session.get(CircuitBreaker, platform, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def gate(
    session: Session, platform: str, *, owner: str, now: datetime, policy: BreakerPolicy
) -> Gate:
    """May ``owner`` call ``platform`` now? Takes the half-open probe when it is free."""
    row = _row(session, platform)
    if row is None or row.state == BreakerState.CLOSED:
        return Gate(True)
    if row.state == BreakerState.OPEN:
        assert row.open_until is not None
        if now < row.open_until:
            return Gate(False, row.open_until)
        row.state = BreakerState.HALF_OPEN
        row.probe_owner = owner
        row.open_until = now + timedelta(seconds=policy.probe_timeout_seconds)
        row.updated_at = now
        return Gate(True, probe=True)
    # half-open: one probe at a time
    if row.probe_owner == owner:
        return Gate(True, probe=True)
    if row.open_until is not None and now >= row.open_until:  # the probe went silent
        row.probe_owner = owner
        row.open_until = now + timedelta(seconds=policy.probe_timeout_seconds)
        row.updated_at = now
        return Gate(True, probe=True)
    return Gate(False, row.open_until or now + timedelta(seconds=policy.cooldown_seconds))


def record_success(session: Session, platform: str, *, now: datetime) -> None:
    row = _row(session, platform)
    if row is None or (row.state == BreakerState.CLOSED and row.consecutive_failures == 0):
        return
    row.state = BreakerState.CLOSED
    row.consecutive_failures = 0
    row.opened_count = 0
    row.open_until = None
    row.probe_owner = None
    row.updated_at = now


def record_failure(
    session: Session, platform: str, *, now: datetime, error: str, policy: BreakerPolicy
) -> bool:
    """Count a transient failure; True when this failure opened the breaker."""
    row = _row_for_update(session, platform, now)
    row.consecutive_failures = (row.consecutive_failures or 0) + 1
    row.last_error = error[:1000]
    row.updated_at = now
    if row.state == BreakerState.HALF_OPEN or (
        row.state == BreakerState.CLOSED and row.consecutive_failures >= policy.failure_threshold
    ):
        row.opened_count = (row.opened_count or 0) + 1
        row.state = BreakerState.OPEN
        row.open_until = now + policy.cooldown(row.opened_count)
        row.probe_owner = None
        return True
    return False


def blocked_platforms(session: Session, *, now: datetime) -> set[str]:
    """Platforms the sensor should launch no runs for: open and still cooling down."""
    return set(
        session.scalars(
            select(CircuitBreaker.platform).where(
                CircuitBreaker.state == BreakerState.OPEN, CircuitBreaker.open_until > now
            )
        )
    )


def states(session: Session) -> list[dict[str, object]]:
    return [
        {
            "platform": r.platform,
            "state": r.state,
            "consecutive_failures": r.consecutive_failures,
            "open_until": r.open_until.isoformat() if r.open_until else None,
            "last_error": r.last_error,
        }
        for r in session.scalars(select(CircuitBreaker).order_by(CircuitBreaker.platform))
    ]
