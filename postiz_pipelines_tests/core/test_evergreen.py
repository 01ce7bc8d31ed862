"""Evergreen rotation simulated over several weeks: fairness, caps, expiry, cooldown,
variations per account, shuffle, pause and resume, and DST on the timetable."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from postiz_pipelines.core.scheduling.evergreen import (
    EvergreenPick,
    EvergreenPlan,
    EvergreenPost,
    EvergreenRules,
    EvergreenSlot,
    choose_variation,
    plan_evergreen,
    slot_instants,
    validate_library,
    validate_timetable,
)
from postiz_pipelines.errors import ValidationFailed

BERLIN = ZoneInfo("Europe/Berlin")
NY = ZoneInfo("America/New_York")
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)  # the weeks below cross Berlin's spring forward
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
ACCOUNTS = ("acc-mastodon", "acc-bluesky")
TIMETABLE = [
    EvergreenSlot(0, "09:00", "tips"),
    EvergreenSlot(1, "10:00", "news"),
    EvergreenSlot(2, "12:00", "tips"),
    EvergreenSlot(4, "17:00", "tips"),
]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def post(n: int, category: str = "tips", **changes: object) -> EvergreenPost:
    base = EvergreenPost(
        id=f"{category}-{n}",
        category=category,
        variations=(f"{category} {n} a", f"{category} {n} b"),
        created_at=CREATED + timedelta(minutes=n),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def library(size: int = 5) -> list[EvergreenPost]:
    return [post(n) for n in range(1, size + 1)] + [post(1, "news"), post(2, "news")]


def simulate(
    posts: list[EvergreenPost],
    weeks: int,
    rules: EvergreenRules | None = None,
    timetable: list[EvergreenSlot] = TIMETABLE,
    paused_weeks: dict[int, frozenset[str]] | None = None,
) -> tuple[list[EvergreenPlan], list[EvergreenPost]]:
    rules = rules or EvergreenRules()
    plans: list[EvergreenPlan] = []
    for week in range(weeks):
        paused = (paused_weeks or {}).get(week, frozenset())
        plan = plan_evergreen(
            posts,
            timetable,
            zone=BERLIN,
            accounts=ACCOUNTS,
            window_start=MONDAY + timedelta(weeks=week),
            window_end=MONDAY + timedelta(weeks=week + 1),
            rules=replace(rules, paused_categories=paused),
        )
        plans.append(plan)
        posts = plan.posts
    return plans, posts


def slot_picks(plans: list[EvergreenPlan], category: str) -> list[tuple[datetime, str]]:
    """One (slot instant, post id) per slot, whatever the number of accounts."""
    seen = {
        (pick.slot_at, pick.post_id)
        for plan in plans
        for pick in plan.picks
        if pick.category == category
    }
    return sorted(seen)


def spread(counts: Counter[str]) -> int:
    return max(counts.values()) - min(counts.values())


def test_least_recently_published_first_ties_by_creation_order() -> None:
    plans, posts = simulate(library(), weeks=8)
    order = [post_id for _, post_id in slot_picks(plans, "tips")]
    assert len(order) == 24
    assert order[:10] == [f"tips-{n}" for n in (1, 2, 3, 4, 5, 1, 2, 3, 4, 5)]
    counts = Counter(order)
    assert spread(counts) <= 1 and set(counts) == {f"tips-{n}" for n in range(1, 6)}
    assert {p.id: p.uses for p in posts if p.category == "tips"} == dict(counts)


def test_every_account_gets_every_slot() -> None:
    plans, _ = simulate(library(), weeks=1)
    per_slot = Counter((pick.slot_at, pick.post_id) for pick in plans[0].picks)
    assert set(per_slot.values()) == {len(ACCOUNTS)}
    assert {pick.account_id for pick in plans[0].picks} == set(ACCOUNTS)


def test_slot_instants_follow_local_time_across_dst() -> None:
    plans, _ = simulate(library(), weeks=5)
    mondays = [at for at, _ in slot_picks(plans, "tips") if at.astimezone(BERLIN).weekday() == 0]
    assert mondays[3] == utc(2026, 3, 23, 8)  # 09:00 CET
    assert mondays[4] == utc(2026, 3, 30, 7)  # 09:00 CEST
    assert {m.astimezone(BERLIN).hour for m in mondays} == {9}


def test_shuffle_is_fair_seeded_and_replayable() -> None:
    rules = EvergreenRules(shuffle=True, seed="workspace-1")
    plans, _ = simulate(library(), weeks=10, rules=rules)
    order = [post_id for _, post_id in slot_picks(plans, "tips")]
    for end in range(1, len(order) + 1):
        counts = Counter(order[:end])
        if len(counts) == 5:
            assert spread(counts) <= 1, order[:end]
    rounds = [order[i : i + 5] for i in range(0, 30, 5)]
    assert all(sorted(r) == [f"tips-{n}" for n in range(1, 6)] for r in rounds)
    assert any(r != [f"tips-{n}" for n in range(1, 6)] for r in rounds)
    assert all(a != b for a, b in zip(order, order[1:], strict=False))
    again, _ = simulate(library(), weeks=10, rules=rules)
    assert again == plans
    other, _ = simulate(library(), weeks=10, rules=replace(rules, seed="workspace-2"))
    assert [pid for _, pid in slot_picks(other, "tips")] != order


def test_max_uses_caps_a_post() -> None:
    posts = library()
    posts[0] = replace(posts[0], max_uses=2)
    plans, after = simulate(posts, weeks=8)
    counts = Counter(post_id for _, post_id in slot_picks(plans, "tips"))
    assert counts["tips-1"] == 2
    del counts["tips-1"]
    assert spread(counts) <= 1 and sum(counts.values()) == 22
    assert next(p for p in after if p.id == "tips-1").uses == 2


def test_expired_post_is_not_picked_from_its_expiry_on() -> None:
    expiry = utc(2026, 3, 16)
    posts = library()
    posts[1] = replace(posts[1], expires_at=expiry)
    plans, _ = simulate(posts, weeks=6)
    picked = [at for at, post_id in slot_picks(plans, "tips") if post_id == "tips-2"]
    assert picked and all(at < expiry for at in picked)


def test_post_created_later_joins_at_the_front_but_not_before_it_exists() -> None:
    joined = utc(2026, 3, 10, 12)
    posts = library(3) + [post(9, created_at=joined)]
    plans, _ = simulate(posts, weeks=3)
    order = slot_picks(plans, "tips")
    first_new = next(at for at, post_id in order if post_id == "tips-9")
    assert first_new == min(at for at, _ in order if at >= joined)


def test_cooldown_leaves_slots_empty_rather_than_repeating() -> None:
    timetable = [EvergreenSlot(day, "09:00", "daily") for day in range(7)]
    posts = [post(1, "daily"), post(2, "daily")]
    rules = EvergreenRules(cooldown=timedelta(days=3))
    plans, _ = simulate(posts, weeks=3, rules=rules, timetable=timetable)
    order = slot_picks(plans, "daily")
    last_seen: dict[str, datetime] = {}
    for at, post_id in order:
        if post_id in last_seen:
            assert at - last_seen[post_id] >= timedelta(days=3)
        last_seen[post_id] = at
    skipped = [skip for plan in plans for skip in plan.skipped]
    assert len(order) == 14 and len(skipped) == 7
    assert {skip.reason for skip in skipped} == {"no_eligible_post"}


def test_a_posts_own_cooldown_overrides_the_librarys() -> None:
    timetable = [EvergreenSlot(day, "09:00", "daily") for day in range(7)]
    posts = [post(1, "daily"), post(2, "daily", cooldown=timedelta(0))]
    plans, _ = simulate(
        posts, weeks=1, rules=EvergreenRules(cooldown=timedelta(days=3)), timetable=timetable
    )
    counts = Counter(post_id for _, post_id in slot_picks(plans, "daily"))
    assert counts == {"daily-1": 3, "daily-2": 4}
    assert not plans[0].skipped


def test_variations_rotate_per_account() -> None:
    item = post(1, variations=("A", "B", "C"), last_variation_by_account={"acc-bluesky": 0})
    assert choose_variation(item, "acc-mastodon") == 0
    assert choose_variation(item, "acc-bluesky") == 1
    plans, _ = simulate([item], weeks=2)
    by_account: dict[str, list[int]] = {}
    for plan in plans:
        for pick in plan.picks:
            by_account.setdefault(pick.account_id, []).append(pick.variation)
    assert by_account["acc-mastodon"] == [0, 1, 2, 0, 1, 2]
    assert by_account["acc-bluesky"] == [1, 2, 0, 1, 2, 0]


def test_variation_rotation_skips_identical_text() -> None:
    item = post(1, variations=("Same", " Same ", "Other"), last_variation_by_account={"a": 0})
    assert choose_variation(item, "a") == 2
    single = post(2, variations=("Only",), last_variation_by_account={"a": 0})
    assert choose_variation(single, "a") == 0


def test_no_account_gets_identical_text_within_the_cooldown() -> None:
    cooldown = timedelta(days=4)
    plans, _ = simulate(library(2), weeks=6, rules=EvergreenRules(cooldown=cooldown))
    sent: dict[tuple[str, str], datetime] = {}
    texts: dict[str, list[str]] = {}
    posts = {p.id: p for p in library(2)}
    for pick in sorted((p for plan in plans for p in plan.picks), key=lambda p: p.slot_at):
        text = posts[pick.post_id].variations[pick.variation]
        key = (pick.account_id, text)
        if key in sent:
            assert pick.slot_at - sent[key] >= cooldown
        sent[key] = pick.slot_at
        texts.setdefault(f"{pick.account_id}/{pick.post_id}", []).append(text)
    for sequence in texts.values():
        assert all(a != b for a, b in zip(sequence, sequence[1:], strict=False))


def test_pause_gives_nothing_and_resume_continues_the_rotation() -> None:
    plans, _ = simulate(library(), weeks=3, paused_weeks={1: frozenset({"tips"})})
    assert [s.reason for s in plans[1].skipped] == ["paused"] * 3
    assert all(pick.category == "news" for pick in plans[1].picks)
    order = [post_id for _, post_id in slot_picks(plans, "tips")]
    assert order == [f"tips-{n}" for n in (1, 2, 3, 4, 5, 1)]
    assert slot_picks([plans[1]], "news")  # the other category kept going


def test_same_window_planned_twice_gives_the_same_plan() -> None:
    first, _ = simulate(library(), weeks=2)
    second, _ = simulate(library(), weeks=2)
    assert first == second
    assert isinstance(first[0].picks[0], EvergreenPick)


def test_timetable_slots_collapse_in_a_gap_only_within_a_category() -> None:
    timetable = [
        EvergreenSlot(6, "02:30", "a"),
        EvergreenSlot(6, "03:30", "a"),
        EvergreenSlot(6, "03:30", "b"),
        EvergreenSlot(6, "01:30", "c"),
    ]
    spring = slot_instants(timetable, NY, utc(2026, 3, 2), utc(2026, 3, 9))
    assert [(at, slot.category) for at, slot in spring] == [
        (utc(2026, 3, 8, 6, 30), "c"),
        (utc(2026, 3, 8, 7, 30), "a"),
        (utc(2026, 3, 8, 7, 30), "b"),
    ]
    autumn = slot_instants(timetable, NY, utc(2026, 10, 26), utc(2026, 11, 2))
    assert [at for at, slot in autumn if slot.category == "c"] == [utc(2026, 11, 1, 5, 30)]


def test_timetable_validation_names_fields() -> None:
    problems = validate_timetable(
        [
            EvergreenSlot(0, "09:00", "tips"),
            EvergreenSlot(9, "09:00", "tips"),
            EvergreenSlot(1, "9h", "tips"),
            EvergreenSlot(1, "10:00", " "),
            EvergreenSlot(0, "09:00", "tips"),
        ]
    )
    assert [p.field for p in problems] == [
        "timetable[1].weekday",
        "timetable[2].time",
        "timetable[3].category",
        "timetable[4]",
    ]


def test_library_validation_names_fields() -> None:
    problems = validate_library(
        [
            post(1, variations=()),
            post(2, max_uses=0),
            post(3, expires_at=datetime(2026, 5, 1)),
            post(3),
            post(4, variations=("ok", "  ")),
        ]
    )
    assert [p.field for p in problems] == [
        "posts[0].variations",
        "posts[1].max_uses",
        "posts[2].expires_at",
        "posts[3].id",
        "posts[4].variations",
    ]


def test_plan_refuses_bad_input() -> None:
    with pytest.raises(ValidationFailed) as info:
        plan_evergreen(
            [post(1)],
            [EvergreenSlot(0, "25:00", "tips")],
            zone=BERLIN,
            accounts=(),
            window_start=MONDAY,
            window_end=MONDAY + timedelta(weeks=1),
        )
    assert {p.field for p in info.value.problems} == {"accounts"}
    with pytest.raises(ValidationFailed) as info:
        plan_evergreen(
            [post(1)],
            [EvergreenSlot(0, "25:00", "tips")],
            zone=BERLIN,
            accounts=ACCOUNTS,
            window_start=MONDAY,
            window_end=MONDAY + timedelta(weeks=1),
        )
    assert {p.field for p in info.value.problems} == {"timetable[0].time"}
