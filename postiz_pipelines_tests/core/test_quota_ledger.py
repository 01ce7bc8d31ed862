"""YouTube's daily project quota in the shared ledger (``core/publishing/quota.py``): every
run spends from the same Pacific day, a job that does not fit waits untried (its attempt
unspent) until midnight Pacific, and the next day starts from zero; the ledger's own rules
(a conditional reservation, the day's edges around DST) as plain functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import JobStatus, PublishJob, QuotaLedger
from postiz_pipelines.core.publishing import quota
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.providers.base import QuotaCost
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app
from postiz_pipelines_tests.core.test_platform_progress import video_post

PACIFIC = "America/Los_Angeles"


def test_every_run_spends_from_one_day_and_a_job_that_does_not_fit_waits_untried(
    app, make, clock, tiny_video
) -> None:  # type: ignore[no-untyped-def]
    # two uploads (1,600 units each) fit in 3,300; a third does not, in any process
    small = AppContext(
        settings=app.settings.model_copy(update={"youtube_daily_quota": 3300}),
        db=app.db,
        keyring=app.keyring,
    )
    state = SandboxState(clock=clock, seed=5)
    transport = SandboxTransport(create_app(state), timeout=1)
    ws = make.workspace()
    accounts = [
        video_post(
            small,
            make,
            clock,
            ws,
            "youtube",
            f"ya29.{name}",
            tiny_video(seconds=3),
            at=clock.now() + timedelta(minutes=10 * i),
        )
        for i, name in enumerate(["eins", "zwei", "drei"])
    ]
    for i in range(3):  # a new run (a new provider, counting nothing yet) for each job
        publish_due(small, owner=f"run-{i}", clock=clock, transport=transport)
        clock.advance(10 * 60)
    with app.db.read() as s:
        by_account = {j.account_id: j for j in s.scalars(select(PublishJob))}
        [row] = s.scalars(select(QuotaLedger)).all()
    done = [by_account[a.id].status for a in accounts]
    assert done == [JobStatus.COMPLETED, JobStatus.COMPLETED, JobStatus.PENDING]
    third = by_account[accounts[2].id]
    assert (third.attempts, third.last_error_class) == (0, "deferred")
    assert "1600 quota units and 100 of the daily 3300" in (third.last_error or "")
    assert third.next_attempt_at == datetime(2026, 11, 29, 8, 0, tzinfo=UTC)  # midnight in LA
    assert (row.scope, row.period, row.units_used, row.budget) == (
        "platform:youtube",
        "2026-11-28",
        3200,
        3300,
    )
    assert state.request_count("youtube", "POST /upload/youtube/v3/videos") == 2
    # the next Pacific day has its own row: the third goes out
    clock.set(third.next_attempt_at)
    report = publish_due(small, owner="run-next-day", clock=clock, transport=transport)
    assert report.as_dict()["completed"] == 1, report.outcomes
    with app.db.read() as s:
        periods = {r.period: r.units_used for r in s.scalars(select(QuotaLedger))}
    assert periods == {"2026-11-28": 3200, "2026-11-29": 1600}


def test_a_reservation_takes_units_only_when_they_fit(db) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2027, 3, 14, 7, 59, tzinfo=UTC)  # 23:59 PST on 13 March, the night of DST
    cost = QuotaCost(units=60, budget=100, zone=PACIFIC)
    with db.session() as s:
        assert quota.reserve(s, "youtube", cost, now=now) is None
        assert quota.reserve(s, "youtube", replace(cost, units=40), now=now) is None
        until = quota.reserve(s, "youtube", replace(cost, units=1), now=now)
        assert until == datetime(2027, 3, 14, 8, 0, tzinfo=UTC)  # midnight PST
        assert quota.used(s, "youtube", zone=PACIFIC, now=now) == 100
        assert quota.reserve(s, "youtube", replace(cost, units=0), now=now) is None
    later = now + timedelta(minutes=2)  # the new day (PDT begins at 02:00 that morning)
    with db.session() as s:
        assert quota.reserve(s, "youtube", cost, now=later) is None
        assert quota.used(s, "youtube", zone=PACIFIC, now=later) == 60
        # the day after a spring-forward day is 23 hours long: midnight is 07:00 UTC
        assert quota.next_reset(later, PACIFIC) == datetime(2027, 3, 15, 7, 0, tzinfo=UTC)
