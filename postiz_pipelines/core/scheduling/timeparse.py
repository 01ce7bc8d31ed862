"""Reading instants that people type: ISO 8601 with an offset, local time plus a zone, or a
time relative to now (``+10m``, ``+2h``, ``+1d12h``, ``+90s``)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from postiz_pipelines.clock import ensure_utc
from postiz_pipelines.core.scheduling.recurrence import local_to_utc
from postiz_pipelines.core.workspaces.store import check_zone
from postiz_pipelines.errors import Problem, ValidationFailed

_DURATION_RE = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_AHEAD = timedelta(days=3660)


def parse_duration(value: str, *, field: str) -> timedelta:
    """A positive duration like ``10m``, ``2h``, ``1d12h``, ``90s`` or ``2w`` (units in that
    order, each at most once); ``ValidationFailed`` naming ``field`` otherwise."""
    text = value.strip().lower().removeprefix("+").replace(" ", "")
    found = _DURATION_RE.match(text)
    if not text or found is None:
        raise ValidationFailed(
            Problem(
                field,
                f"{value!r} is not a duration like 10m, 2h, 1d12h or 90s "
                "(units w, d, h, m, s in that order)",
                value,
            )
        )
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    span = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not timedelta(0) < span <= MAX_AHEAD:
        raise ValidationFailed(
            Problem(field, f"{value!r} must be more than 0 and at most 3660 days", value, "3660d")
        )
    return span


def relative_instant(value: str | None, *, now: datetime, field: str) -> datetime | None:
    """``now`` plus the duration of a ``+10m``-style value; None for any other value (an
    absolute time, ``now``, ``next-slot``), which the caller reads as it did before."""
    if value is None or not value.strip().startswith("+"):
        return None
    return ensure_utc(now) + parse_duration(value, field=field)


def parse_instant(
    value: datetime | str,
    *,
    field: str,
    timezone: str | None = None,
    fallback_zone: str | None = None,
    fallback_name: str = "the workspace",
) -> datetime:
    """An aware UTC instant. A value without an offset is read in ``timezone``, else in
    ``fallback_zone``; with neither it is refused (never guessed from the server's zone)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(
                text.replace("Z", "+00:00") if text.endswith("Z") else text
            )
        except ValueError:
            raise ValidationFailed(
                Problem(
                    field,
                    f"{value!r} is not an ISO 8601 time like 2026-12-01T09:30 or "
                    f"2026-12-01T09:30+01:00",
                    value,
                )
            ) from None
    else:
        parsed = value
    if not 1970 <= parsed.year <= 9000:
        raise ValidationFailed(
            Problem(field, f"year {parsed.year} is out of range (1970..9000)", str(value))
        )
    if parsed.tzinfo is not None:
        return ensure_utc(parsed)
    zone_name = timezone or fallback_zone
    if not zone_name:
        raise ValidationFailed(
            Problem(
                field,
                f"{parsed.isoformat()} has no UTC offset and {fallback_name} has no time zone; "
                "add an offset (e.g. +01:00) or a time zone",
                str(value),
            )
        )
    # the same wall-time rule as recurring schedules (a skipped local time moves forward)
    return local_to_utc(parsed, check_zone(zone_name, "timezone"))
