"""Rate limits: waits the platforms impose (kept in the database) and per-account token buckets.

A 429, or a response whose rate-limit headers say no call remains, becomes a ``Throttle``
row for the account, so every run and every worker defers that account's jobs until the
platform said it may try again, without spending their attempts. Within one run, a token bucket per
account keeps
to the platform's default budget (``Capabilities.rate_limit``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.clock import Clock
from postiz_pipelines.core.db import insert_ignoring_conflicts
from postiz_pipelines.core.models import Throttle
from postiz_pipelines.providers.base import retry_after_seconds


def account_scope(account_id: str) -> str:
    return f"account:{account_id}"


def platform_scope(platform: str) -> str:
    return f"platform:{platform}"


def blocked_until(session: Session, scopes: Sequence[str], *, now: datetime) -> datetime | None:
    """The latest instant any of ``scopes`` is blocked until, if later than ``now``."""
    latest = None
    for row in session.scalars(select(Throttle).where(Throttle.scope.in_(list(scopes)))):
        if row.blocked_until > now and (latest is None or row.blocked_until > latest):
            latest = row.blocked_until
    return latest


def impose(session: Session, scope: str, *, until: datetime, reason: str, now: datetime) -> None:
    """Block ``scope`` until ``until`` (never shortening a longer block already in place)."""
    inserted = insert_ignoring_conflicts(
        session,
        Throttle,
        [{"scope": scope, "blocked_until": until, "reason": reason[:300], "updated_at": now}],
        on=["scope"],
    )
    if inserted:
        return
    row = session.get(Throttle, scope, with_for_update=True, populate_existing=True)
    if row is not None and row.blocked_until < until:
        row.blocked_until = until
        row.reason = reason[:300]
        row.updated_at = now


# -- the platforms' own rate-limit headers ---------------------------------------------

REMAINING_HEADERS = ("x-ratelimit-remaining", "x-rate-limit-remaining", "ratelimit-remaining")


class RateObserver:
    """What one task's responses said of the remaining budget: (remaining, seconds to reset),
    reset instants read against the engine's clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.seen: list[tuple[int, float | None]] = []


_observer: ContextVar[RateObserver | None] = ContextVar("postiz_rate_observer", default=None)


@contextmanager
def observing_rate_headers(clock: Clock) -> Iterator[list[tuple[int, float | None]]]:
    """Collect the rate-limit headers of every response within this task."""
    observer = RateObserver(clock)
    token = _observer.set(observer)
    try:
        yield observer.seen
    finally:
        _observer.reset(token)


async def record_rate_headers(response: httpx.Response) -> None:
    """An httpx response hook: note the platform's remaining budget for the current task."""
    observer = _observer.get()
    if observer is None:
        return
    headers = {k.lower(): v for k, v in response.headers.items()}
    for name in REMAINING_HEADERS:
        if name in headers:
            try:
                remaining = int(float(headers[name]))
            except ValueError:
                return
            observer.seen.append(
                (remaining, retry_after_seconds(response.headers, now=observer.clock.now()))
            )
            return


def exhausted_until(seen: list[tuple[int, float | None]], *, now: datetime) -> datetime | None:
    """When the platform said no call remains, the instant its window resets."""
    waits = [reset for remaining, reset in seen if remaining <= 0 and reset]
    return now + timedelta(seconds=max(waits)) if waits else None


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` per second; ``acquire`` waits on the clock."""

    def __init__(self, capacity: int, per_seconds: float, clock: Clock) -> None:
        self.capacity = float(capacity)
        self.rate = capacity / per_seconds
        self.clock = clock
        self.tokens = float(capacity)
        self.stamp = clock.now()

    def _refill(self) -> None:
        now = self.clock.now()
        elapsed = (now - self.stamp).total_seconds()
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.stamp = now

    def wait_time(self) -> float:
        """Seconds until a token is free (0 when one is free now)."""
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    async def acquire(self) -> None:
        while (wait := self.wait_time()) > 0:
            await self.clock.sleep_until(self.clock.now() + timedelta(seconds=wait))
        self.tokens -= 1
