"""Weekly posting slots: validation, next free slot, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from postiz_pipelines.core.scheduling.slots import (
    PostingSlot,
    next_free_slot,
    parse_slots,
    validate_slots,
    weekly_instants,
)
from postiz_pipelines.errors import ValidationFailed

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("slot", "field"),
    [
        (PostingSlot(0, "24:00"), "slots[1].time"),
        (PostingSlot(0, "12:60"), "slots[1].time"),
        (PostingSlot(0, "noon"), "slots[1].time"),
        (PostingSlot(0, ""), "slots[1].time"),
        (PostingSlot(7, "09:00"), "slots[1].weekday"),
        (PostingSlot(-1, "09:00"), "slots[1].weekday"),
        (PostingSlot(0, "09:00"), "slots[1]"),  # repeats slots[0]
    ],
)
def test_invalid_slot_names_its_field(slot: PostingSlot, field: str) -> None:
    problems = validate_slots([PostingSlot(0, "09:00"), slot])
    assert [p.field for p in problems] == [field]


def test_edges_of_the_day_are_valid() -> None:
    assert (
        validate_slots([PostingSlot(6, "00:00"), PostingSlot(6, "23:59"), PostingSlot(3, "7:05")])
        == []
    )


def test_parse_slots_from_stored_json_checks_types() -> None:
    slots = parse_slots([{"weekday": 2, "time": "14:30"}])
    assert slots == [PostingSlot(2, "14:30")]
    with pytest.raises(ValidationFailed) as info:
        parse_slots([{"weekday": "2", "time": 1430}, {"time": "09:00"}])
    assert {p.field for p in info.value.problems} == {
        "slots[0].weekday",
        "slots[0].time",
        "slots[1].weekday",
    }


def test_next_free_slot_skips_taken_and_is_strictly_after_now() -> None:
    slots = [PostingSlot(0, "09:00"), PostingSlot(2, "14:30")]  # Monday, Wednesday (Berlin)
    monday_nine = utc(2026, 3, 2, 8)
    assert next_free_slot(slots, BERLIN, utc(2026, 3, 2, 6)) == monday_nine
    assert next_free_slot(slots, BERLIN, monday_nine) == utc(2026, 3, 4, 13, 30)
    taken = {monday_nine, utc(2026, 3, 4, 13, 30)}
    assert next_free_slot(slots, BERLIN, utc(2026, 3, 2, 6), taken) == utc(2026, 3, 9, 8)


def test_single_slot_exactly_at_now_gives_next_week() -> None:
    now = utc(2026, 3, 2, 8)
    assert next_free_slot([PostingSlot(0, "09:00")], BERLIN, now) == now + timedelta(days=7)


def test_many_taken_weeks_are_searched_through() -> None:
    slot = [PostingSlot(4, "12:00")]  # Friday noon UTC
    taken = {utc(2026, 1, 2, 12) + timedelta(weeks=w) for w in range(10)}
    assert next_free_slot(slot, ZoneInfo("UTC"), utc(2026, 1, 1), taken) == utc(2026, 3, 13, 12)


def test_taken_instants_in_other_zones_still_match() -> None:
    slot = [PostingSlot(0, "09:00")]
    booked = datetime(2026, 3, 2, 9, tzinfo=BERLIN)
    assert next_free_slot(slot, BERLIN, utc(2026, 3, 1), {booked}) == utc(2026, 3, 9, 8)


def test_slot_in_spring_forward_gap_moves_by_the_gap() -> None:
    slot = [PostingSlot(6, "02:30")]  # Sunday
    assert next_free_slot(slot, NY, utc(2026, 3, 7)) == utc(2026, 3, 8, 7, 30)  # 03:30 EDT
    lord_howe = next_free_slot([PostingSlot(6, "02:15")], LORD_HOWE, utc(2026, 10, 1))
    assert lord_howe.astimezone(LORD_HOWE).strftime("%Y-%m-%d %H:%M") == "2026-10-04 02:45"


def test_slot_keeps_its_wall_time_across_fall_back() -> None:
    slot = [PostingSlot(6, "09:00")]
    before = next_free_slot(slot, NY, utc(2026, 10, 24))
    after = next_free_slot(slot, NY, before)
    assert before == utc(2026, 10, 25, 13)  # 09:00 EDT
    assert after == utc(2026, 11, 1, 14)  # 09:00 EST
    ambiguous = next_free_slot([PostingSlot(6, "01:30")], NY, utc(2026, 10, 26))
    assert ambiguous == utc(2026, 11, 1, 5, 30)  # the first 01:30 only


def test_no_slots_is_a_problem_on_slots() -> None:
    with pytest.raises(ValidationFailed) as info:
        next_free_slot([], BERLIN, utc(2026, 1, 1))
    assert info.value.problems[0].field == "slots"


def test_invalid_slots_refuse_to_schedule() -> None:
    with pytest.raises(ValidationFailed) as info:
        next_free_slot([PostingSlot(0, "25:00")], BERLIN, utc(2026, 1, 1))
    assert info.value.problems[0].field == "slots[0].time"


def test_weekly_instants_are_half_open_and_ordered() -> None:
    slots = [PostingSlot(0, "10:00"), PostingSlot(0, "09:00")]
    found = weekly_instants(slots, ZoneInfo("UTC"), utc(2026, 3, 2, 9), utc(2026, 3, 9, 9))
    assert found == [(utc(2026, 3, 2, 9), 1), (utc(2026, 3, 2, 10), 0)]


def test_weekly_instants_across_a_local_date_line() -> None:
    # Monday 00:30 in Kolkata is Sunday 19:00 UTC: the window is in UTC, the slot is local.
    found = weekly_instants(
        [PostingSlot(0, "00:30")],
        ZoneInfo("Asia/Kolkata"),
        utc(2026, 3, 1, 18),
        utc(2026, 3, 1, 20),
    )
    assert found == [(utc(2026, 3, 1, 19), 0)]
