"""Time as an injectable dependency: every function that needs "now" takes a Clock or a datetime."""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import available_timezones

from postiz_pipelines.errors import Problem


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime) -> None: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class FixedClock:
    """A clock that moves only when told; ``sleep_until`` jumps to the instant."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self._now = self._now + timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        self._now = ensure_utc(when)

    async def sleep_until(self, when: datetime) -> None:
        if when > self._now:
            self._now = ensure_utc(when)
        await asyncio.sleep(0)


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# Names that resolve to the server's own zone: accepting them is how server settings leak
# into users' schedules.
_SERVER_ZONES = frozenset({"localtime", "posixrules"})


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _SERVER_ZONES


def zone_problem(name: object, field: str = "timezone") -> Problem | None:
    """The problem with an IANA zone name, or None when ``ZoneInfo(name)`` is safe to use."""
    if isinstance(name, str) and name in _known_zones():
        return None
    message = f"unknown time zone {name!r}"
    if isinstance(name, str):
        near = [z for z in _known_zones() if z.lower() == name.strip().lower()]
        if near:
            message += f" (did you mean {near[0]!r}?)"
    return Problem(field, message, value=name)


PAST_TOLERANCE = timedelta(seconds=60)  # "a few seconds ago" from a client clock means now


def not_in_the_past(
    when: datetime, *, now: datetime, field: str
) -> tuple[datetime | None, list[Problem]]:
    """``when``, or now if it is a few seconds ago (a client's clock); a Problem if older."""
    if when < now - PAST_TOLERANCE:
        return None, [
            Problem(
                field,
                f"{when.isoformat()} is in the past (now {now.isoformat()})",
                when.isoformat(),
                now.isoformat(),
            )
        ]
    return max(when, now), []
