"""Recurring and evergreen schedules stored, expanded into jobs, paused, resumed and changed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from postiz_pipelines.core.models import (
    AnalyticsEvent,
    EvergreenPost,
    JobStatus,
    Post,
    PublishJob,
    Schedule,
)
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.scheduling.evergreen_store import (
    add_library_post,
    set_category_paused,
    set_timetable,
)
from postiz_pipelines.core.scheduling.expansion import expand_schedules
from postiz_pipelines.core.scheduling.schedules import (
    Recurrence,
    change_recurrence,
    pause_schedule,
    resume_schedule,
)
from postiz_pipelines.errors import ValidationFailed


def jobs(app, schedule_id=None):  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        q = select(PublishJob).order_by(PublishJob.run_at)
        if schedule_id:
            q = q.where(PublishJob.schedule_id == schedule_id)
        return list(s.scalars(q))


def recurring(app, ws, accounts, now, **rec):  # type: ignore[no-untyped-def]
    with app.db.session() as s:
        post = create_post(
            s,
            workspace=ws,
            text="daily tip",
            account_ids=[a.id for a in accounts],
            scheduled_at=None,
            now=now,
            recurrence=Recurrence(**rec),
        )
        return s.scalar(select(Schedule).where(Schedule.post_id == post.id))


def test_recurring_expands_for_the_horizon_and_again_creates_nothing(app, make):
    ws = make.workspace(timezone="Europe/Berlin")
    a, b = make.account(ws), make.account(ws, handle="bob")
    now = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    sch = recurring(app, ws, [a, b], now, rrule="FREQ=DAILY;BYHOUR=9;BYMINUTE=0", starts_at=now)
    first = jobs(app, sch.id)
    # 09:00 Berlin = 08:00 UTC; created at 06:00 UTC, the 24 h horizon holds one occurrence
    assert [(j.run_at, j.account_id) for j in first] == sorted(
        [
            (datetime(2026, 11, 28, 8, 0, tzinfo=UTC), a.id),
            (datetime(2026, 11, 28, 8, 0, tzinfo=UTC), b.id),
        ],
        key=lambda t: (t[0], [j.account_id for j in first].index(t[1])),
    )
    assert expand_schedules(app.db, now=now).jobs_created == 0
    assert expand_schedules(app.db, now=now).jobs_created == 0
    report = expand_schedules(app.db, now=now + timedelta(days=1))
    assert report.jobs_created == 2
    assert len({j.idempotency_key for j in jobs(app, sch.id)}) == 4


def test_wall_time_kept_across_dst_over_many_passes(app, make):
    ws = make.workspace(timezone="America/New_York")
    acc = make.account(ws)
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    sch = recurring(app, ws, [acc], now, cron="0 9 * * *", starts_at=now)
    t = now
    while t < datetime(2026, 3, 20, tzinfo=UTC):
        expand_schedules(app.db, now=t)
        t += timedelta(hours=5)
    runs = [j.run_at for j in jobs(app, sch.id)]
    local = [r.astimezone(ZoneInfo("America/New_York")) for r in runs]
    assert {(x.hour, x.minute) for x in local} == {(9, 0)}
    assert len(runs) == len(set(runs)) == 20  # 1 March .. 20 March, one a day, no double
    offsets = Counter(r.hour for r in runs)  # 14:00 UTC before the change, 13:00 after
    assert set(offsets) == {13, 14}


def test_missed_occurrences_after_downtime_are_reported_not_burst(app, make):
    ws = make.workspace(timezone="UTC")
    acc = make.account(ws)
    start = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    sch = recurring(app, ws, [acc], start, rrule="FREQ=HOURLY;INTERVAL=6", starts_at=start)
    before = len(jobs(app, sch.id))
    # down for three days; back 30 minutes after an occurrence (within the 1 h grace)
    back = datetime(2026, 11, 4, 12, 30, tzinfo=UTC)
    report = expand_schedules(app.db, now=back)
    new = jobs(app, sch.id)[before:]
    past = [j for j in new if j.run_at <= back]
    assert [j.run_at for j in past] == [
        datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
    ]  # only the latest, late
    assert report.missed >= 10
    with app.db.read() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(AnalyticsEvent)
                .where(AnalyticsEvent.event_type == "occurrence_missed")
            )
            == report.missed
        )


def test_pause_removes_waiting_jobs_resume_expands_from_now_change_replaces_rule(app, make):
    ws = make.workspace(timezone="UTC")
    acc = make.account(ws)
    now = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    sch = recurring(app, ws, [acc], now, rrule="FREQ=HOURLY;INTERVAL=4", starts_at=now)
    assert len(jobs(app, sch.id)) == 6
    with app.db.session() as s:
        assert pause_schedule(s, s.get(Schedule, sch.id), now=now, actor="t") == 6
    assert jobs(app, sch.id) == []
    assert expand_schedules(app.db, now=now + timedelta(hours=10)).jobs_created == 0  # paused
    later = now + timedelta(hours=10)
    with app.db.session() as s:
        resume_schedule(s, s.get(Schedule, sch.id), now=later, actor="t")
    runs = [j.run_at for j in jobs(app, sch.id)]
    assert runs and min(runs) >= later - timedelta(hours=1)  # nothing of the pause comes back
    with app.db.session() as s:
        change_recurrence(
            s,
            s.get(Schedule, sch.id),
            Recurrence(cron="30 12 * * *", starts_at=later),
            now=later,
            actor="t",
        )
    assert [(j.run_at.hour, j.run_at.minute) for j in jobs(app, sch.id)] == [(12, 30)]


def test_bad_recurrences_name_the_field_and_store_nothing(app, make):
    ws = make.workspace(timezone="UTC")
    acc = make.account(ws)
    now = datetime(2026, 11, 28, tzinfo=UTC)
    cases = [
        (Recurrence(rrule="FREQ=SOMETIMES"), "schedule.rrule"),
        (Recurrence(cron="61 * * * *"), "schedule.cron"),
        (Recurrence(cron="0 9 * * *", timezone="Mars/Base"), "schedule.timezone"),
        (
            Recurrence(cron="0 9 * * *", starts_at=now, until=now - timedelta(days=1)),
            "schedule.until",
        ),
        (Recurrence(), "schedule"),
    ]
    for rec, field in cases:
        with app.db.session() as s, pytest.raises(ValidationFailed) as err:
            create_post(
                s,
                workspace=ws,
                text="x",
                account_ids=[acc.id],
                scheduled_at=None,
                now=now,
                recurrence=rec,
            )
        assert field in {p.field for p in err.value.problems}, (field, err.value.problems)
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 0
        assert s.scalar(select(func.count()).select_from(Schedule)) == 0


def test_next_free_slot_single_schedule(app, make):
    ws = make.workspace(timezone="Europe/Berlin")
    acc = make.account(
        ws, settings={"slots": [{"weekday": 0, "time": "09:00"}, {"weekday": 2, "time": "18:30"}]}
    )
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # a Saturday
    with app.db.session() as s:
        create_post(
            s, workspace=ws, text="a", account_ids=[acc.id], scheduled_at="next_slot", now=now
        )
        create_post(
            s, workspace=ws, text="b", account_ids=[acc.id], scheduled_at="next_slot", now=now
        )
    assert [j.run_at for j in jobs(app)] == [
        datetime(2026, 11, 30, 8, 0, tzinfo=UTC),  # Mon 09:00 CET
        datetime(2026, 12, 2, 17, 30, tzinfo=UTC),
    ]  # Wed 18:30 CET


def test_evergreen_rotation_over_weeks(app, make):
    ws = make.workspace(timezone="UTC")
    a, b = make.account(ws), make.account(ws, handle="bob")
    now = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a Monday
    with app.db.session() as s:
        set_timetable(
            s,
            workspace=ws,
            account_ids=[a.id, b.id],
            now=now,
            slots=[{"weekday": d, "time": "10:00", "category": "tips"} for d in range(5)]
            + [{"weekday": 5, "time": "12:00", "category": "promo"}],
        )
        for i in range(3):
            add_library_post(
                s,
                workspace=ws,
                category="tips",
                now=now,
                variations=[f"tip {i} take one", f"tip {i} take two"],
            )
        add_library_post(
            s, workspace=ws, category="promo", now=now, variations=["buy now"], max_uses=2
        )
    t = now
    for _ in range(3 * 7 * 4):  # three weeks, every 6 hours
        expand_schedules(app.db, now=t)
        t += timedelta(hours=6)
    all_jobs = jobs(app)
    with app.db.read() as s:
        posts = {p.id: p for p in s.scalars(select(Post))}
        library = {p.id: p for p in s.scalars(select(EvergreenPost))}
    tips = Counter(
        posts[j.post_id].settings["evergreen"]["post_id"]
        for j in all_jobs
        if posts[j.post_id].settings["evergreen"]["category"] == "tips" and j.account_id == a.id
    )
    assert sum(tips.values()) == 16  # 5 weekdays x 3 weeks, and the 24 h horizon reaches Monday
    assert max(tips.values()) - min(tips.values()) <= 1  # fair rotation
    promo = [j for j in all_jobs if posts[j.post_id].settings["evergreen"]["category"] == "promo"]
    assert len(promo) == 2 * 2  # max_uses 2, two accounts each
    texts_a = [j for j in all_jobs if j.account_id == a.id]
    with app.db.read() as s:
        from postiz_pipelines.core.models import PostTarget

        overrides = {t.id: t.content_override for t in s.scalars(select(PostTarget))}
    # the same library post alternates its variation for one account
    by_item: dict[str, list[str]] = {}
    for j in texts_a:
        by_item.setdefault(posts[j.post_id].settings["evergreen"]["post_id"], []).append(
            overrides[j.target_id]
        )
    rotated = [seq for item, seq in by_item.items() if len(library[item].variations) > 1]
    assert len(rotated) == 3
    for seq in rotated:  # two variations: one account never gets the same text twice running
        assert all(x != y for x, y in zip(seq, seq[1:], strict=False))
    assert sum(r.uses for r in library.values()) == 16 + 2
    assert expand_schedules(app.db, now=t).jobs_created == 0  # idempotent at the same instant


def test_pausing_a_category_drops_its_planned_picks(app, make):
    ws = make.workspace(timezone="UTC")
    acc = make.account(ws)
    now = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    with app.db.session() as s:
        set_timetable(
            s,
            workspace=ws,
            account_ids=[acc.id],
            now=now,
            slots=[
                {"weekday": 0, "time": "10:00", "category": "tips"},
                {"weekday": 0, "time": "11:00", "category": "news"},
            ],
        )
        add_library_post(s, workspace=ws, category="tips", now=now, variations=["t"])
        add_library_post(s, workspace=ws, category="news", now=now, variations=["n"])
    expand_schedules(app.db, now=now)
    assert len(jobs(app)) == 2
    with app.db.session() as s:
        ws_row = s.merge(ws)
        set_category_paused(s, workspace=ws_row, category="tips", paused=True, now=now, actor="t")
    remaining = jobs(app)
    assert len(remaining) == 1 and remaining[0].status == JobStatus.PENDING
    with app.db.read() as s:
        assert {p.category: p.uses for p in s.scalars(select(EvergreenPost))} == {
            "tips": 0,
            "news": 1,
        }


def test_timetable_change_and_category_resume_replan_at_once(app, make):
    ws = make.workspace(timezone="UTC")
    acc = make.account(ws)
    now = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # Monday
    with app.db.session() as s:
        set_timetable(
            s,
            workspace=ws,
            account_ids=[acc.id],
            now=now,
            slots=[{"weekday": 0, "time": "10:00", "category": "tips"}],
        )
        add_library_post(s, workspace=ws, category="tips", now=now, variations=["t"])
    expand_schedules(app.db, now=now)
    assert [(j.run_at.hour, j.run_at.minute) for j in jobs(app)] == [(10, 0)]
    with app.db.session() as s:  # the slot moves: the old pick goes, the new one is drawn now
        set_timetable(
            s,
            workspace=s.merge(ws),
            account_ids=[acc.id],
            now=now,
            slots=[{"weekday": 0, "time": "15:30", "category": "tips"}],
        )
    assert [(j.run_at.hour, j.run_at.minute) for j in jobs(app)] == [(15, 30)]
    with app.db.session() as s:
        set_category_paused(
            s, workspace=s.merge(ws), category="tips", paused=True, now=now, actor="t"
        )
    assert jobs(app) == []
    with app.db.session() as s:
        set_category_paused(
            s, workspace=s.merge(ws), category="tips", paused=False, now=now, actor="t"
        )
    assert [(j.run_at.hour, j.run_at.minute) for j in jobs(app)] == [(15, 30)]  # not a day later
    with app.db.read() as s:
        assert [p.uses for p in s.scalars(select(EvergreenPost))] == [
            1
        ]  # withdrawn picks gave uses back


def test_local_until_is_read_in_the_rules_zone(app, make):
    ws = make.workspace(timezone="UTC")
    acc = make.account(ws)
    now = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    sch = recurring(
        app,
        ws,
        [acc],
        now,
        cron="0 * * * *",
        timezone="Asia/Tokyo",
        starts_at=now,
        until="2026-11-28T12:00",
    )  # noon in Tokyo = 03:00 UTC
    assert sch.until == datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    assert [j.run_at.hour for j in jobs(app, sch.id)] == [0, 1, 2, 3]


def test_canceling_a_recurring_post_ends_its_series(app, make):
    from postiz_pipelines.core.posts.manage import cancel_post

    ws = make.workspace(timezone="UTC")
    acc = make.account(ws)
    now = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    sch = recurring(app, ws, [acc], now, cron="0 */6 * * *", starts_at=now)
    with app.db.session() as s:
        cancel_post(s, s.get(Post, sch.post_id), now=now, actor="t")
    assert {j.status for j in jobs(app, sch.id)} == {JobStatus.CANCELED}
    assert expand_schedules(app.db, now=now + timedelta(days=2)).jobs_created == 0


def test_out_of_range_years_are_refused_not_a_crash():
    from postiz_pipelines.core.scheduling.timeparse import parse_instant

    with pytest.raises(ValidationFailed) as err:
        parse_instant("9999-12-31T23:59:59-05:00", field="scheduledAt")
    assert (
        err.value.problems[0].field == "scheduledAt"
        and "out of range" in err.value.problems[0].message
    )
