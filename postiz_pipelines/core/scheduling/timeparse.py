"""Reading instants that people type: ISO 8601 with an offset, or local time plus a zone."""

from __future__ import annotations

from datetime import datetime

from postiz_pipelines.clock import ensure_utc
from postiz_pipelines.core.scheduling.recurrence import local_to_utc
from postiz_pipelines.core.workspaces.store import check_zone
from postiz_pipelines.errors import Problem, ValidationFailed


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
