"""Named cases of the scheduling core: zones, both DST transitions of 2026, cron and RRULE
forms, validation, single schedules, missed/late occurrences and expansion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from postiz_pipelines.core.scheduling.planning import (
    DEFAULT_GRACE,
    RecurrenceSpec,
    claim_order,
    expand_recurring,
    local_to_utc,
    next_occurrence,
    plan_due,
    resolve_single,
    resolve_zone,
    validate_recurrence,
)
from postiz_pipelines.core.scheduling.recurrence import occurrences, utc_to_local
from postiz_pipelines.core.scheduling.slots import PostingSlot
from postiz_pipelines.errors import ValidationFailed

NY = "America/New_York"
BERLIN = "Europe/Berlin"
LORD_HOWE = "Australia/Lord_Howe"
KOLKATA = "Asia/Kolkata"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def series(spec: RecurrenceSpec, start: datetime, end: datetime) -> list[datetime]:
    return occurrences(spec, start=start, window_start=start, window_end=end)


def fields(problems: list) -> set[str]:
    return {p.field for p in problems}


# --- time zones -------------------------------------------------------------------------


def test_resolve_zone_takes_the_first_given_candidate() -> None:
    assert resolve_zone(None, "Europe/Berlin", NY).key == BERLIN
    assert resolve_zone("", None, KOLKATA).key == KOLKATA
    assert resolve_zone(LORD_HOWE, BERLIN).key == LORD_HOWE


def test_resolve_zone_defaults_to_utc_when_nothing_is_set() -> None:
    assert resolve_zone(None, None, None).key == "UTC"


def test_unknown_zone_is_refused_not_skipped() -> None:
    with pytest.raises(ValidationFailed) as info:
        resolve_zone("Mars/Base", BERLIN)
    (problem,) = info.value.problems
    assert problem.field == "timezone"
    assert problem.message == "unknown time zone 'Mars/Base'"
    assert problem.value == "Mars/Base"


def test_server_local_zone_names_are_refused() -> None:
    for name in ("localtime", "posixrules", "/etc/localtime", "../UTC"):
        with pytest.raises(ValidationFailed) as info:
            resolve_zone(name)
        assert info.value.problems[0].field == "timezone"


def test_miscased_zone_gets_a_suggestion() -> None:
    with pytest.raises(ValidationFailed) as info:
        resolve_zone("america/new_york")
    assert "did you mean 'America/New_York'" in info.value.problems[0].message


@pytest.mark.parametrize(
    ("zone", "wall", "expected", "local_after"),
    [
        # Spring forward: the skipped wall time moves forward by the gap's length.
        (NY, datetime(2026, 3, 8, 2, 30), utc(2026, 3, 8, 7, 30), (3, 30)),
        (BERLIN, datetime(2026, 3, 29, 2, 30), utc(2026, 3, 29, 1, 30), (3, 30)),
        (LORD_HOWE, datetime(2026, 10, 4, 2, 15), utc(2026, 10, 3, 15, 45), (2, 45)),
        # Fall back: the repeated wall time is its first instant.
        (NY, datetime(2026, 11, 1, 1, 30), utc(2026, 11, 1, 5, 30), (1, 30)),
        (BERLIN, datetime(2026, 10, 25, 2, 30), utc(2026, 10, 25, 0, 30), (2, 30)),
        (LORD_HOWE, datetime(2026, 4, 5, 1, 45), utc(2026, 4, 4, 14, 45), (1, 45)),
        # No DST at all.
        (KOLKATA, datetime(2026, 3, 8, 2, 30), utc(2026, 3, 7, 21, 0), (2, 30)),
        ("UTC", datetime(2026, 3, 8, 2, 30), utc(2026, 3, 8, 2, 30), (2, 30)),
    ],
)
def test_local_to_utc_wall_time_rule(
    zone: str, wall: datetime, expected: datetime, local_after: tuple[int, int]
) -> None:
    instant = local_to_utc(wall, ZoneInfo(zone))
    assert instant == expected
    back = instant.astimezone(ZoneInfo(zone))
    assert (back.hour, back.minute) == local_after
    assert back.date() == wall.date()


def test_local_to_utc_refuses_aware_input() -> None:
    with pytest.raises(ValueError):
        local_to_utc(utc(2026, 1, 1), ZoneInfo(NY))


# --- recurring: daily rules across both 2026 transitions, RRULE and cron forms -----------

DST_CASES = [
    # (zone, hour, minute, first local day, expected UTC instants of three days)
    (NY, 9, 0, (2026, 3, 7), [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]),
    (NY, 9, 0, (2026, 10, 31), [utc(2026, 10, 31, 13), utc(2026, 11, 1, 14), utc(2026, 11, 2, 14)]),
    (
        NY,
        2,
        30,
        (2026, 3, 7),
        [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)],
    ),
    (
        NY,
        1,
        30,
        (2026, 10, 31),
        [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
    ),
    (
        BERLIN,
        2,
        30,
        (2026, 3, 28),
        [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)],
    ),
    (
        BERLIN,
        2,
        30,
        (2026, 10, 24),
        [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
    ),
    (
        BERLIN,
        9,
        0,
        (2026, 3, 28),
        [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)],
    ),
    (
        LORD_HOWE,
        2,
        15,
        (2026, 10, 3),
        [utc(2026, 10, 2, 15, 45), utc(2026, 10, 3, 15, 45), utc(2026, 10, 4, 15, 15)],
    ),
    (
        LORD_HOWE,
        1,
        45,
        (2026, 4, 4),
        [utc(2026, 4, 3, 14, 45), utc(2026, 4, 4, 14, 45), utc(2026, 4, 5, 15, 15)],
    ),
    (
        KOLKATA,
        9,
        0,
        (2026, 3, 7),
        [utc(2026, 3, 7, 3, 30), utc(2026, 3, 8, 3, 30), utc(2026, 3, 9, 3, 30)],
    ),
    (
        "UTC",
        9,
        0,
        (2026, 10, 24),
        [utc(2026, 10, 24, 9), utc(2026, 10, 25, 9), utc(2026, 10, 26, 9)],
    ),
]


@pytest.mark.parametrize("form", ["rrule", "cron"])
@pytest.mark.parametrize(("zone", "hour", "minute", "day", "expected"), DST_CASES)
def test_daily_series_across_dst(
    form: str,
    zone: str,
    hour: int,
    minute: int,
    day: tuple[int, int, int],
    expected: list[datetime],
) -> None:
    if form == "rrule":
        spec = RecurrenceSpec(rrule=f"FREQ=DAILY;BYHOUR={hour};BYMINUTE={minute}", timezone=zone)
    else:
        spec = RecurrenceSpec(cron=f"{minute} {hour} * * *", timezone=zone)
    start = local_to_utc(datetime(*day), ZoneInfo(zone))
    assert series(spec, start, start + timedelta(days=3)) == expected


def test_series_start_supplies_the_time_of_day_and_drops_seconds() -> None:
    spec = RecurrenceSpec(rrule="FREQ=DAILY", timezone=BERLIN)
    start = local_to_utc(datetime(2026, 3, 27, 9, 15, 42), ZoneInfo(BERLIN))
    found = series(spec, start, start + timedelta(days=2))
    # Seconds are dropped, so 09:15:00 on the first day is before the start.
    assert [utc_to_local(at, ZoneInfo(BERLIN)) for at in found] == [
        datetime(2026, 3, 28, 9, 15),
        datetime(2026, 3, 29, 9, 15),
    ]


def test_every_half_hour_through_spring_forward_keeps_real_spacing() -> None:
    spec = RecurrenceSpec(cron="*/30 * * * *", timezone=NY)
    start = utc(2026, 3, 8, 5, 30)  # 00:30 EST
    found = series(spec, start, utc(2026, 3, 8, 8, 1))
    # 02:00 and 02:30 do not exist: they become 03:00 and 03:30 EDT, and the real
    # 03:00 / 03:30 are not fired a second time.
    assert found == [
        utc(2026, 3, 8, 5, 30),
        utc(2026, 3, 8, 6, 0),
        utc(2026, 3, 8, 6, 30),
        utc(2026, 3, 8, 7, 0),
        utc(2026, 3, 8, 7, 30),
        utc(2026, 3, 8, 8, 0),
    ]


def test_a_window_opening_inside_a_shifted_gap_still_sees_the_shifted_instant() -> None:
    spec = RecurrenceSpec(rrule="FREQ=DAILY;BYHOUR=2;BYMINUTE=30", timezone=NY)
    # 03:15 EDT: the skipped 02:30 lands at 03:30 EDT, after the window opens.
    found = occurrences(
        spec,
        start=utc(2026, 3, 1),
        window_start=utc(2026, 3, 8, 7, 15),
        window_end=utc(2026, 3, 9, 12),
    )
    assert found == [utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)]


def test_every_half_hour_through_fall_back_fires_the_repeated_hour_once() -> None:
    spec = RecurrenceSpec(cron="*/30 * * * *", timezone=NY)
    start = utc(2026, 11, 1, 4, 30)  # 00:30 EDT
    found = series(spec, start, utc(2026, 11, 1, 8, 1))
    assert found == [
        utc(2026, 11, 1, 4, 30),  # 00:30 EDT
        utc(2026, 11, 1, 5, 0),  # 01:00 EDT
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT; the EST repeat does not fire
        utc(2026, 11, 1, 7, 0),  # 02:00 EST
        utc(2026, 11, 1, 7, 30),
        utc(2026, 11, 1, 8, 0),
    ]


# --- recurring: weekly, monthly, bounds -------------------------------------------------


def test_monthly_first_monday_in_rrule_and_cron_forms() -> None:
    start = utc(2026, 1, 1)
    end = utc(2026, 5, 1)
    expected = [utc(2026, 1, 5, 9), utc(2026, 2, 2, 9), utc(2026, 3, 2, 9), utc(2026, 4, 6, 8)]
    rrule = RecurrenceSpec(rrule="FREQ=MONTHLY;BYDAY=1MO;BYHOUR=10;BYMINUTE=0", timezone=BERLIN)
    cron = RecurrenceSpec(cron="0 10 * * 1#1", timezone=BERLIN)
    assert series(rrule, start, end) == expected
    assert series(cron, start, end) == expected


def test_monthly_last_friday_by_setpos() -> None:
    spec = RecurrenceSpec(
        rrule="RRULE:FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1;BYHOUR=17;BYMINUTE=0", timezone=NY
    )
    found = series(spec, utc(2026, 1, 1), utc(2026, 5, 1))
    assert [utc_to_local(at, ZoneInfo(NY)).date().day for at in found] == [30, 27, 27, 24]
    assert found[2] == utc(2026, 3, 27, 21)  # 17:00 EDT


def test_weekly_by_day_with_interval() -> None:
    spec = RecurrenceSpec(
        rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;BYHOUR=8;BYMINUTE=0", timezone=KOLKATA
    )
    found = series(spec, utc(2026, 1, 5), utc(2026, 2, 3))
    days = [utc_to_local(at, ZoneInfo(KOLKATA)).date().day for at in found]
    assert days == [5, 8, 19, 22, 2]  # weeks of Jan 5, Jan 19 and Feb 2


def test_count_counts_from_series_start_whatever_the_window() -> None:
    spec = RecurrenceSpec(rrule="FREQ=DAILY;BYHOUR=9;BYMINUTE=0", timezone="UTC", count=5)
    start = utc(2026, 3, 1)
    assert len(series(spec, start, utc(2027, 1, 1))) == 5
    late_window = occurrences(
        spec, start=start, window_start=utc(2026, 3, 4), window_end=utc(2026, 4, 1)
    )
    assert late_window == [utc(2026, 3, 4, 9), utc(2026, 3, 5, 9)]


def test_count_in_the_rule_text_and_on_the_row_take_the_stricter() -> None:
    spec = RecurrenceSpec(rrule="FREQ=DAILY;COUNT=3", timezone="UTC", count=10)
    assert len(series(spec, utc(2026, 3, 1, 9), utc(2027, 1, 1))) == 3


def test_until_is_inclusive() -> None:
    spec = RecurrenceSpec(cron="0 9 * * *", timezone="UTC", until=utc(2026, 3, 3, 9))
    assert series(spec, utc(2026, 3, 1), utc(2026, 4, 1)) == [
        utc(2026, 3, 1, 9),
        utc(2026, 3, 2, 9),
        utc(2026, 3, 3, 9),
    ]


@pytest.mark.parametrize(
    ("until", "last_day"),
    [
        ("20260305T140000Z", 5),  # UTC: 09:00 EST on the 5th is 14:00Z, included
        ("20260305T085900", 4),  # floating: local wall time, 08:59 on the 5th
        ("20260305", 5),  # a date: that whole local day
    ],
)
def test_until_in_rule_text(until: str, last_day: int) -> None:
    spec = RecurrenceSpec(rrule=f"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;UNTIL={until}", timezone=NY)
    found = series(spec, utc(2026, 3, 1), utc(2026, 4, 1))
    assert utc_to_local(found[-1], ZoneInfo(NY)).day == last_day
    assert len(found) == last_day


def test_window_is_half_open_and_next_occurrence_agrees() -> None:
    spec = RecurrenceSpec(cron="0 9 * * *", timezone=BERLIN)
    start = utc(2026, 3, 1)
    nine = utc(2026, 3, 10, 8)
    assert occurrences(spec, start=start, window_start=nine, window_end=nine) == []
    assert occurrences(spec, start=start, window_start=nine, window_end=nine + timedelta(1)) == [
        nine
    ]
    assert next_occurrence(spec, start=start, after=nine) == nine
    assert next_occurrence(spec, start=start, after=nine + timedelta(seconds=1)) == utc(
        2026, 3, 11, 8
    )


def test_next_occurrence_is_none_after_the_series() -> None:
    spec = RecurrenceSpec(cron="0 9 * * *", timezone="UTC", count=2)
    assert next_occurrence(spec, start=utc(2026, 3, 1), after=utc(2026, 3, 2, 10)) is None


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "field", "value"),
    [
        (RecurrenceSpec(rrule="FREQ=FORTNIGHTLY"), "rrule", "FREQ=FORTNIGHTLY"),
        (RecurrenceSpec(rrule="BYDAY=MO"), "rrule", "BYDAY=MO"),
        (RecurrenceSpec(rrule="FREQ=DAILY;INTERVAL=0"), "rrule", "FREQ=DAILY;INTERVAL=0"),
        (RecurrenceSpec(rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"), "rrule", None),
        (RecurrenceSpec(rrule="DTSTART:20260101T000000\nRRULE:FREQ=DAILY"), "rrule", None),
        (RecurrenceSpec(rrule="FREQ=DAILY;UNTIL=20200101T000000Z"), "rrule", None),
        (RecurrenceSpec(cron="61 9 * * *"), "cron", "61 9 * * *"),
        (RecurrenceSpec(cron="0 9 * * * *"), "cron", "0 9 * * * *"),
        (RecurrenceSpec(cron="@daily"), "cron", "@daily"),
        (RecurrenceSpec(cron="0 0 31 2 *"), "cron", "0 0 31 2 *"),
        (RecurrenceSpec(cron="0 9 * * *", timezone="Mars/Base"), "timezone", "Mars/Base"),
        (RecurrenceSpec(cron="0 9 * * *", count=0), "count", 0),
        (RecurrenceSpec(cron="0 9 * * *", count=-3), "count", -3),
        (RecurrenceSpec(cron="0 9 * * *", until=utc(2025, 12, 31)), "until", None),
        (RecurrenceSpec(rrule="FREQ=DAILY", cron="0 9 * * *"), "rrule", "FREQ=DAILY"),
        (RecurrenceSpec(), "rrule", None),
    ],
)
def test_validation_names_the_field_and_value(
    spec: RecurrenceSpec, field: str, value: object
) -> None:
    problems = validate_recurrence(spec, start=utc(2026, 1, 1))
    assert fields(problems) == {field}
    if value is not None:
        assert problems[0].value == value


def test_validation_reports_every_problem_at_once() -> None:
    spec = RecurrenceSpec(cron="0 9 * * *", timezone="Mars/Base", count=0, until=utc(2020, 1, 1))
    problems = validate_recurrence(spec, start=utc(2026, 1, 1))
    assert fields(problems) == {"timezone", "count", "until"}
    until = next(p for p in problems if p.field == "until")
    assert until.limit == "2026-01-01T00:00:00+00:00"
    bad_rule = RecurrenceSpec(rrule="FREQ=NOPE", timezone="Mars/Base", count=0)
    assert fields(validate_recurrence(bad_rule, start=datetime(2026, 1, 1))) == {
        "rrule",
        "timezone",
        "count",
        "starts_at",
    }


def test_valid_specs_have_no_problems_and_invalid_ones_raise_on_use() -> None:
    assert (
        validate_recurrence(RecurrenceSpec(cron="0 9 * * 1-5", timezone=NY), start=utc(2026, 1, 1))
        == []
    )
    with pytest.raises(ValidationFailed) as info:
        series(RecurrenceSpec(cron="nope"), utc(2026, 1, 1), utc(2026, 2, 1))
    assert info.value.problems[0].field == "cron"


def test_naive_start_is_refused() -> None:
    problems = validate_recurrence(RecurrenceSpec(cron="0 9 * * *"), start=datetime(2026, 1, 1))
    assert fields(problems) == {"starts_at"}


# --- missed occurrences and grace -----------------------------------------------------------


def test_plan_due_publishes_future_and_the_latest_recent_one() -> None:
    now = utc(2026, 3, 1, 12)
    occ = [now - timedelta(minutes=50), now - timedelta(minutes=20), now + timedelta(hours=1)]
    to_publish, missed = plan_due(occ, now)
    assert to_publish == [now - timedelta(minutes=20), now + timedelta(hours=1)]
    # The earlier late one is not fired as well: that would be a burst.
    assert missed == [now - timedelta(minutes=50)]


def test_plan_due_reports_old_occurrences_as_missed() -> None:
    now = utc(2026, 3, 1, 12)
    occ = [now - timedelta(days=2), now - timedelta(days=1), now - timedelta(hours=2)]
    plan = plan_due(occ, now)
    assert plan.to_publish == []
    assert plan.missed == sorted(occ)


def test_plan_due_grace_boundary_is_inclusive() -> None:
    now = utc(2026, 3, 1, 12)
    assert plan_due([now - DEFAULT_GRACE], now).to_publish == [now - DEFAULT_GRACE]
    edge = now - DEFAULT_GRACE - timedelta(seconds=1)
    assert plan_due([edge], now).missed == [edge]
    assert plan_due([now], now, grace=timedelta(0)).to_publish == [now]


def test_plan_due_refuses_negative_grace() -> None:
    with pytest.raises(ValidationFailed) as info:
        plan_due([], utc(2026, 1, 1), grace=timedelta(seconds=-1))
    assert info.value.problems[0].field == "grace_seconds"


def test_claim_order_puts_priority_before_due_time() -> None:
    jobs = [
        ("a", 0, utc(2026, 3, 1, 9)),
        ("b", 5, utc(2026, 3, 1, 10)),
        ("c", 5, utc(2026, 3, 1, 8)),
        ("d", 0, utc(2026, 3, 1, 7)),
    ]
    ordered = sorted(jobs, key=lambda j: claim_order(priority=j[1], due_at=j[2], tiebreak=j[0]))
    assert [j[0] for j in ordered] == ["c", "b", "d", "a"]


# --- single schedules ----------------------------------------------------------------------


def test_single_now_and_aware_instant() -> None:
    now = utc(2026, 3, 1, 12)
    assert resolve_single("now", now=now) == now
    berlin = datetime(2026, 3, 2, 9, tzinfo=ZoneInfo(BERLIN))
    assert resolve_single(berlin, now=now) == utc(2026, 3, 2, 8)


def test_single_local_wall_time_uses_the_zone_and_gap_rule() -> None:
    now = utc(2026, 3, 1)
    at = resolve_single(datetime(2026, 3, 8, 2, 30), now=now, zone=ZoneInfo(NY))
    assert at == utc(2026, 3, 8, 7, 30)
    with pytest.raises(ValidationFailed) as info:
        resolve_single(datetime(2026, 3, 8, 2, 30), now=now)
    assert info.value.problems[0].field == "run_at"


def test_single_in_the_past_is_late_within_grace_and_refused_beyond() -> None:
    now = utc(2026, 3, 1, 12)
    assert resolve_single(now - timedelta(minutes=5), now=now) == now - timedelta(minutes=5)
    with pytest.raises(ValidationFailed) as info:
        resolve_single(now - timedelta(hours=2), now=now)
    assert info.value.problems[0].field == "run_at"
    assert "past" in info.value.problems[0].message


def test_single_next_slot_uses_the_accounts_slots() -> None:
    now = utc(2026, 3, 2, 6)  # Monday 07:00 in Berlin
    slots = [PostingSlot(0, "09:00"), PostingSlot(2, "14:30")]
    first = resolve_single("next_slot", now=now, zone=ZoneInfo(BERLIN), slots=slots)
    assert first == utc(2026, 3, 2, 8)
    second = resolve_single("next_slot", now=now, zone=ZoneInfo(BERLIN), slots=slots, taken={first})
    assert second == utc(2026, 3, 4, 13, 30)


def test_single_refuses_unknown_words() -> None:
    with pytest.raises(ValidationFailed) as info:
        resolve_single("tomorrow", now=utc(2026, 1, 1))
    assert info.value.problems[0].field == "run_at"


# --- expansion ---------------------------------------------------------------------------------


def test_expansion_resumes_where_it_ended_and_never_repeats() -> None:
    spec = RecurrenceSpec(cron="0 */6 * * *", timezone="UTC")
    start = utc(2026, 3, 1)
    first = expand_recurring(spec, start=start, expanded_until=None, now=start)
    assert first.to_publish == [utc(2026, 3, 1, h) for h in (0, 6, 12, 18)]
    assert first.expanded_until == utc(2026, 3, 2)
    again = expand_recurring(
        spec, start=start, expanded_until=first.expanded_until, now=start + timedelta(hours=1)
    )
    assert again.to_publish == [utc(2026, 3, 2, 0)]
    assert again.expanded_until == utc(2026, 3, 2, 1)
    assert set(again.to_publish).isdisjoint(first.to_publish)
    assert not again.finished


def test_expansion_after_downtime_reports_missed_without_a_burst() -> None:
    spec = RecurrenceSpec(cron="0 * * * *", timezone="UTC")
    start = utc(2026, 3, 1)
    now = utc(2026, 3, 1, 5, 40)  # down since 00:00 expanded_until; 01:00..05:00 passed
    result = expand_recurring(
        spec,
        start=start,
        expanded_until=utc(2026, 3, 1, 0, 30),
        now=now,
        horizon=timedelta(hours=2),
    )
    assert result.missed == [utc(2026, 3, 1, h) for h in (1, 2, 3, 4)]
    assert result.to_publish == [utc(2026, 3, 1, 5), utc(2026, 3, 1, 6), utc(2026, 3, 1, 7)]


def test_expansion_marks_a_finished_series() -> None:
    spec = RecurrenceSpec(cron="0 9 * * *", timezone="UTC", count=2)
    result = expand_recurring(spec, start=utc(2026, 3, 1), expanded_until=None, now=utc(2026, 3, 1))
    assert result.to_publish == [utc(2026, 3, 1, 9)]
    assert not result.finished
    later = expand_recurring(
        spec, start=utc(2026, 3, 1), expanded_until=result.expanded_until, now=utc(2026, 3, 2)
    )
    assert later.to_publish == [utc(2026, 3, 2, 9)]
    assert later.finished
