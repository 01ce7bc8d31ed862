"""Properties of recurring series over random rules, zones, starts and bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from postiz_pipelines.core.scheduling.recurrence import (
    RecurrenceSpec,
    local_to_utc,
    occurrences,
    utc_to_local,
    validate_recurrence,
)

ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
    "America/Santiago",
]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
PROPS = settings(max_examples=200, deadline=None)

zones = st.sampled_from(ZONES)
starts = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
hours = st.integers(0, 23)
minutes = st.sampled_from([0, 15, 30, 45, 59])


@st.composite
def rrules(draw: st.DrawFn) -> str:
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY"]))
    parts = [f"FREQ={freq}", f"INTERVAL={draw(st.integers(1, 3))}"]
    if draw(st.booleans()):
        by_hour = sorted(draw(st.sets(hours, min_size=1, max_size=3)))
        parts.append(f"BYHOUR={','.join(map(str, by_hour))};BYMINUTE={draw(minutes)}")
    if freq == "WEEKLY" and draw(st.booleans()):
        by_day = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True))
        parts.append(f"BYDAY={','.join(by_day)}")
    if freq == "MONTHLY" and draw(st.booleans()):
        if draw(st.booleans()):
            parts.append(
                f"BYDAY={draw(st.sampled_from(['1', '2', '-1']))}{draw(st.sampled_from(DAYS))}"
            )
        else:
            parts.append(
                f"BYDAY={draw(st.sampled_from(DAYS))};BYSETPOS={draw(st.sampled_from([1, -1]))}"
            )
    return ";".join(parts)


@st.composite
def crons(draw: st.DrawFn) -> str:
    minute = draw(minutes)
    hour = ",".join(map(str, sorted(draw(st.sets(hours, min_size=1, max_size=4)))))
    weekday = draw(st.sampled_from(["*", "1-5", "0,6", "3"]))
    day = draw(st.sampled_from(["*", "*", "1", "15"]))
    return f"{minute} {hour} {day} * {weekday}"


@st.composite
def specs(draw: st.DrawFn) -> tuple[RecurrenceSpec, datetime]:
    start = draw(starts)
    until = None
    if draw(st.booleans()):
        until = start + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=200)))
    count = draw(st.none() | st.integers(1, 40))
    zone = draw(zones)
    if draw(st.booleans()):
        spec = RecurrenceSpec(rrule=draw(rrules()), timezone=zone, until=until, count=count)
    else:
        spec = RecurrenceSpec(cron=draw(crons()), timezone=zone, until=until, count=count)
    assert validate_recurrence(spec, start=start) == []
    return spec, start


def _all(spec: RecurrenceSpec, start: datetime, days: int = 400) -> list[datetime]:
    return occurrences(spec, start=start, window_start=start, window_end=start + timedelta(days))


@PROPS
@given(specs())
def test_series_is_strictly_increasing_utc_and_within_bounds(
    case: tuple[RecurrenceSpec, datetime],
) -> None:
    spec, start = case
    found = _all(spec, start)
    assert all(at.utcoffset() == timedelta(0) for at in found)
    assert all(a < b for a, b in zip(found, found[1:], strict=False))
    assert all(at >= start for at in found)
    if spec.until is not None:
        assert all(at <= spec.until for at in found)
    if spec.count is not None:
        assert len(found) <= spec.count


@PROPS
@given(specs(), st.floats(0, 1), st.floats(0, 1))
def test_windows_tile_the_series(
    case: tuple[RecurrenceSpec, datetime], f1: float, f2: float
) -> None:
    spec, start = case
    end = start + timedelta(days=120)
    a, b = sorted((f1, f2))
    cut1 = start + (end - start) * a
    cut2 = start + (end - start) * b
    parts = [
        occurrences(spec, start=start, window_start=lo, window_end=hi)
        for lo, hi in ((start, cut1), (cut1, cut2), (cut2, end))
    ]
    assert parts[0] + parts[1] + parts[2] == occurrences(
        spec, start=start, window_start=start, window_end=end
    )


@PROPS
@given(st.sampled_from(["rrule", "cron"]), hours, minutes, zones, starts, st.integers(1, 60))
def test_count_is_honoured_exactly_when_unbounded(
    form: str, hour: int, minute: int, zone: str, start: datetime, count: int
) -> None:
    if form == "rrule":
        spec = RecurrenceSpec(
            rrule=f"FREQ=WEEKLY;BYHOUR={hour};BYMINUTE={minute}", timezone=zone, count=count
        )
    else:
        spec = RecurrenceSpec(cron=f"{minute} {hour} * * 2", timezone=zone, count=count)
    assert len(_all(spec, start, days=7 * 70)) == count


def _wall_exists(wall: datetime, zone: ZoneInfo) -> bool:
    return utc_to_local(local_to_utc(wall, zone), zone) == wall


def _gap(wall: datetime, zone: ZoneInfo) -> timedelta:
    before = (local_to_utc(wall, zone) - timedelta(hours=3)).astimezone(zone).utcoffset()
    after = (local_to_utc(wall, zone) + timedelta(hours=3)).astimezone(zone).utcoffset()
    assert before is not None and after is not None
    return after - before


@PROPS
@given(st.sampled_from(["rrule", "cron"]), hours, minutes, zones, starts)
def test_daily_rules_keep_local_wall_time_across_dst(
    form: str, hour: int, minute: int, zone_name: str, start: datetime
) -> None:
    zone = ZoneInfo(zone_name)
    if form == "rrule":
        spec = RecurrenceSpec(
            rrule=f"FREQ=DAILY;BYHOUR={hour};BYMINUTE={minute}", timezone=zone_name
        )
    else:
        spec = RecurrenceSpec(cron=f"{minute} {hour} * * *", timezone=zone_name)
    found = _all(spec, start, days=370)
    local_days: list[date] = []
    for at in found:
        local = utc_to_local(at, zone)
        wall = datetime.combine(local.date(), time(hour, minute))
        if local != wall:
            # The one documented exception: a wall time in a spring-forward gap moves
            # forward by the gap's length.
            assert not _wall_exists(wall, zone)
            assert local - wall == _gap(wall, zone)
        local_days.append(local.date())
    # Exactly one post per local day: none lost in a gap, none doubled in a repeated hour.
    assert local_days == [local_days[0] + timedelta(days=i) for i in range(len(local_days))]
    assert len(local_days) >= 369
