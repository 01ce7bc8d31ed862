"""Recurring series (RFC 5545 RRULE or 5-field cron) evaluated in local wall time.

A series is computed on the wall clock of its zone and each wall time is then turned
into an instant by ``local_to_utc``, the one wall-time rule of this package:

- a wall time that exists once is that instant, so 09:00 stays 09:00 across DST;
- a wall time repeated by a fall-back transition is its first instant (fold=0): it fires once;
- a wall time skipped by a spring-forward transition moves forward by the length of the gap
  (02:30 on 2026-03-08 in New York is 03:30 EDT; 02:15 on 2026-10-04 on Lord Howe, whose gap
  is 30 minutes, is 02:45). Should that shifted instant not be later than the previous
  instant of the series, it is dropped, so a series is always strictly increasing.

The series start supplies the time of day a rule does not name (seconds are dropped: posts
land on whole minutes) and is not itself an occurrence unless the rule matches it. COUNT
counts the instants of the series from its start, whatever window is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, CroniterError, croniter
from dateutil.rrule import rrule, rrulestr

from postiz_pipelines.clock import zone_problem
from postiz_pipelines.errors import Problem, ValidationFailed

# Wall times repeat or skip within one transition (at most a day, Samoa 2011); two days of
# lead-in before a window re-establishes the order of a series that is sought into.
_SEEK_MARGIN = timedelta(days=2)
_UNTIL_RE = re.compile(r"^(\d{8})(?:T(\d{6})(Z?))?$")


@dataclass(frozen=True)
class RecurrenceSpec:
    """A recurring schedule as stored on its row: one of ``rrule`` or ``cron``, in ``timezone``.

    ``until`` (aware) and ``count`` bound the series; the RRULE text may carry its own
    UNTIL and COUNT, and the stricter bound wins.
    """

    rrule: str | None = None
    cron: str | None = None
    timezone: str = "UTC"
    until: datetime | None = None
    count: int | None = None


def resolve_zone(*candidates: str | None) -> ZoneInfo:
    """The zone of the first given candidate (schedule's, account's, workspace's), else UTC.

    An unknown name raises ``ValidationFailed`` rather than falling through to the next
    candidate: a typo must not silently move posts to another zone.
    """
    for name in candidates:
        if name is None or name == "":
            continue
        problem = zone_problem(name)
        if problem is not None:
            raise ValidationFailed(problem)
        return ZoneInfo(name)
    return ZoneInfo("UTC")


def local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive local wall time under the module's wall-time rule."""
    if wall.tzinfo is not None:
        raise ValueError("wall time must be naive; it is read on the clock of `zone`")
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def utc_to_local(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall time of an aware instant in ``zone``."""
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def aware_problem(value: object, field: str) -> Problem | None:
    """A problem unless ``value`` is a datetime with a UTC offset."""
    if not isinstance(value, datetime):
        return Problem(field, "must be a date and time", value=value)
    if value.tzinfo is None or value.utcoffset() is None:
        return Problem(field, "must include a UTC offset", value=value.isoformat())
    return None


def require_aware(value: datetime, field: str) -> datetime:
    """``value`` in UTC; raises ``ValidationFailed`` naming ``field`` when it is naive."""
    problem = aware_problem(value, field)
    if problem is not None:
        raise ValidationFailed(problem)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class _Series:
    zone: ZoneInfo
    walls: Callable[[datetime], Iterator[datetime]]  # increasing wall times at or after seek
    start_wall: datetime
    until: datetime | None
    count: int | None


def _positive_int(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def _rrule_until(raw: str, zone: ZoneInfo) -> datetime | None:
    match = _UNTIL_RE.match(raw)
    if match is None:
        return None
    day_text, time_text, utc_mark = match.groups()
    try:
        day = datetime.strptime(day_text, "%Y%m%d").date()
        moment = datetime.strptime(time_text, "%H%M%S").time() if time_text else None
    except ValueError:
        return None
    if moment is None:
        # A date-only UNTIL includes that whole local day.
        next_day = datetime.combine(day + timedelta(days=1), time())
        return local_to_utc(next_day, zone) - timedelta(microseconds=1)
    if utc_mark:
        return datetime.combine(day, moment, tzinfo=UTC)
    return local_to_utc(datetime.combine(day, moment), zone)


def _compile_rrule(
    text: str, zone: ZoneInfo, start_wall: datetime, problems: list[Problem]
) -> tuple[rrule | None, int | None, datetime | None]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    if not body or "\n" in body or ":" in body:
        problems.append(
            Problem(
                "rrule",
                "expected one RRULE line such as 'FREQ=WEEKLY;BYDAY=MO'; the start is starts_at",
                value=text,
            )
        )
        return None, None, None
    known = len(problems)
    kept: list[str] = []
    seen: set[str] = set()
    count: int | None = None
    until: datetime | None = None
    for part in body.upper().split(";"):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key or key in seen:
            problems.append(Problem("rrule", f"malformed or repeated part {part!r}", value=text))
            return None, None, None
        seen.add(key)
        if key == "COUNT":
            count = _positive_int(value)
            if count is None:
                problems.append(Problem("rrule", "COUNT must be a positive integer", value=text))
        elif key == "UNTIL":
            until = _rrule_until(value, zone)
            if until is None:
                problems.append(Problem("rrule", f"UNTIL {value!r} is not a date", value=text))
        elif key == "INTERVAL" and _positive_int(value) is None:
            problems.append(Problem("rrule", "INTERVAL must be a positive integer", value=text))
        elif (key == "FREQ" and value == "SECONDLY") or key == "BYSECOND":
            problems.append(Problem("rrule", "sub-minute recurrence is not supported", value=text))
        else:
            kept.append(f"{key}={value}")
    if len(problems) > known:
        return None, None, None
    try:
        rule = rrulestr(";".join(kept), dtstart=start_wall)
    except (ValueError, TypeError) as exc:
        reason = "FREQ is required" if isinstance(exc, TypeError) else str(exc)
        problems.append(Problem("rrule", f"invalid RRULE: {reason}", value=text))
        return None, None, None
    if not isinstance(rule, rrule) or rule.after(start_wall, inc=True) is None:
        problems.append(Problem("rrule", "the rule never matches a date", value=text))
        return None, None, None
    return rule, count, until


def _rrule_walls(rule: rrule) -> Callable[[datetime], Iterator[datetime]]:
    def walls(seek: datetime) -> Iterator[datetime]:
        return rule.xafter(seek, inc=True)

    return walls


def _cron_walls(expression: str) -> Callable[[datetime], Iterator[datetime]]:
    def walls(seek: datetime) -> Iterator[datetime]:
        # croniter returns the next match strictly after its base, so start just before seek.
        it = croniter(expression, seek - timedelta(microseconds=1))
        while True:
            try:
                yield it.get_next(datetime)
            except CroniterBadDateError:
                return

    return walls


def _check_cron(expression: str, start_wall: datetime, problems: list[Problem]) -> bool:
    fields = expression.split()
    if len(fields) != 5:
        problems.append(
            Problem(
                "cron",
                "expected 5 fields: minute hour day-of-month month day-of-week",
                value=expression,
            )
        )
        return False
    try:
        croniter(expression, start_wall).get_next(datetime)
    except CroniterBadDateError:
        problems.append(Problem("cron", "the expression never matches a date", value=expression))
        return False
    except (CroniterError, ValueError, KeyError) as exc:
        problems.append(Problem("cron", f"invalid cron expression: {exc}", value=expression))
        return False
    return True


def _compile(spec: RecurrenceSpec, start: datetime) -> tuple[_Series | None, list[Problem]]:
    problems: list[Problem] = []
    start_problem = aware_problem(start, "starts_at")
    if start_problem is not None:
        problems.append(start_problem)
    if spec.rrule and spec.cron:
        problems.append(Problem("rrule", "give either rrule or cron, not both", value=spec.rrule))
    elif not spec.rrule and not spec.cron:
        problems.append(Problem("rrule", "a recurring schedule needs rrule or cron"))
    zone_issue = zone_problem(spec.timezone)
    if zone_issue is not None:
        problems.append(zone_issue)
    if spec.count is not None and (
        not isinstance(spec.count, int) or isinstance(spec.count, bool) or spec.count <= 0
    ):
        problems.append(Problem("count", "must be a positive integer", value=spec.count, limit=1))
    if spec.until is not None:
        until_problem = aware_problem(spec.until, "until")
        if until_problem is not None:
            problems.append(until_problem)
        elif start_problem is None and spec.until < start:
            problems.append(
                Problem(
                    "until",
                    "is before the start of the series",
                    value=spec.until.isoformat(),
                    limit=start.isoformat(),
                )
            )
    if spec.rrule and spec.cron:
        return None, problems
    # Parse the rule even when other fields failed, so one answer lists every problem.
    zone = ZoneInfo("UTC" if zone_issue else spec.timezone)
    begin = start if start_problem is None else datetime(2000, 1, 1, tzinfo=UTC)
    start_wall = utc_to_local(begin, zone).replace(second=0, microsecond=0)
    until, count = spec.until, spec.count
    walls: Callable[[datetime], Iterator[datetime]] | None = None
    if spec.rrule:
        rule, rule_count, rule_until = _compile_rrule(spec.rrule, zone, start_wall, problems)
        if rule is not None and rule_until is not None and rule_until < begin:
            problems.append(
                Problem("rrule", "UNTIL is before the start of the series", value=spec.rrule)
            )
        if rule is not None:
            walls = _rrule_walls(rule)
            until = min((u for u in (until, rule_until) if u is not None), default=None)
            count = min((c for c in (count, rule_count) if c is not None), default=None)
    elif spec.cron and _check_cron(spec.cron, start_wall, problems):
        walls = _cron_walls(spec.cron)
    if problems or walls is None:
        return None, problems
    return _Series(zone, walls, start_wall, until.astimezone(UTC) if until else None, count), []


def _instants(series: _Series, start: datetime, seek_from: datetime | None) -> Iterator[datetime]:
    seek = series.start_wall
    if series.count is None and seek_from is not None:
        # Without COUNT nothing before the window matters but the order, so skip ahead.
        seek = max(seek, utc_to_local(seek_from - _SEEK_MARGIN, series.zone))
    latest: datetime | None = None
    emitted = 0
    for wall in series.walls(seek):
        instant = local_to_utc(wall, series.zone)
        if latest is not None and instant <= latest:
            continue  # a skipped wall time shifted onto or past this one
        latest = instant
        if instant < start:
            continue
        if series.until is not None and instant > series.until:
            return
        yield instant
        emitted += 1
        if series.count is not None and emitted >= series.count:
            return


def _compiled(spec: RecurrenceSpec, start: datetime) -> _Series:
    series, problems = _compile(spec, start)
    if series is None:
        raise ValidationFailed(problems)
    return series


def validate_recurrence(spec: RecurrenceSpec, *, start: datetime) -> list[Problem]:
    """Every reason ``spec`` starting at ``start`` is unusable; empty when it is valid.

    Problems name the field (``rrule``, ``cron``, ``timezone``, ``until``, ``count``,
    ``starts_at``) and carry the offending value.
    """
    return _compile(spec, start)[1]


def occurrences(
    spec: RecurrenceSpec,
    *,
    start: datetime,
    window_start: datetime,
    window_end: datetime,
    limit: int | None = None,
) -> list[datetime]:
    """The series' instants (aware UTC, strictly increasing) in ``[window_start, window_end)``.

    Every instant lies within ``[start, until]`` and belongs to the first ``count`` of the
    series; at most ``limit`` are returned. Raises ``ValidationFailed`` for an invalid spec.
    """
    series = _compiled(spec, start)
    lower = require_aware(window_start, "window_start")
    upper = require_aware(window_end, "window_end")
    found: list[datetime] = []
    if upper <= lower or (limit is not None and limit <= 0):
        return found
    for instant in _instants(series, start.astimezone(UTC), lower):
        if instant >= upper:
            break
        if instant >= lower:
            found.append(instant)
            if limit is not None and len(found) >= limit:
                break
    return found


def next_occurrence(spec: RecurrenceSpec, *, start: datetime, after: datetime) -> datetime | None:
    """The first instant of the series at or after ``after``, or None when the series is over."""
    lower = require_aware(after, "after")
    for instant in _instants(_compiled(spec, start), start.astimezone(UTC), lower):
        if instant >= lower:
            return instant
    return None
