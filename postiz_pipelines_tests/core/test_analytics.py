"""Every aggregate of the analytics world (see ``analytics_world.py``) equals numbers
computed by hand, missing values included; each check fails on data that should fail it."""

from __future__ import annotations

import io
import math
from datetime import timedelta

import pandas as pd
import pytest
from PIL import Image

from postiz_pipelines.core.models import JobStatus, PublishJob
from postiz_pipelines.core.observability import checks
from postiz_pipelines.core.observability.activity import event_counts, workspace_activity
from postiz_pipelines.core.observability.best_times import best_posting_times
from postiz_pipelines.core.observability.outcomes import (
    OUTCOME_COLUMNS,
    platform_totals,
    publish_events,
    publish_outcomes,
)
from postiz_pipelines.core.observability.queue_health import queue_backlog, queue_summary
from postiz_pipelines.core.observability.report import build_report, pixel_size
from postiz_pipelines.core.observability.tables import markdown_table
from postiz_pipelines.core.observability.token_health import token_health, token_summary
from postiz_pipelines_tests.analytics_world import NOW, build

DAY_START = NOW.replace(hour=0)
DAY_END = DAY_START + timedelta(days=1)


@pytest.fixture
def world(app, make):  # type: ignore[no-untyped-def]
    return build(app, make)


def _by_platform(df: pd.DataFrame) -> dict[str, dict]:
    return {r["platform"]: r for r in df.to_dict("records")}


def test_publish_outcomes_by_hand(app, world):
    with app.db.read() as s:
        df = publish_outcomes(s, since=DAY_START, until=DAY_END)
    assert list(df.columns) == OUTCOME_COLUMNS
    assert set(df["day"]) == {"2026-11-28"} and set(df["workspace_id"]) == {world["acme"].id}
    rows = _by_platform(df)
    m, x, b = rows["mastodon"], rows["x"], rows["bluesky"]
    assert (m["published"], m["failed"], m["retried"], m["dead_lettered"]) == (4, 1, 1, 1)
    assert m["success_rate"] == pytest.approx(4 / 5)
    assert m["on_time_rate"] == 1.0  # the three known lags (10, 20, 30) are all within 60 s
    # linear interpolation over [10, 20, 30]: p95 at rank 1.9 -> 29, p99 at 1.98 -> 29.8
    assert (m["lag_p50_s"], m["lag_p95_s"]) == (20.0, pytest.approx(29.0))
    assert m["lag_p99_s"] == pytest.approx(29.8)
    assert (x["published"], x["failed"], x["retried"], x["dead_lettered"]) == (2, 1, 0, 0)
    assert x["success_rate"] == pytest.approx(2 / 3) and x["on_time_rate"] == 0.5
    assert x["lag_p50_s"] == 100.0 and x["lag_p95_s"] == pytest.approx(145.0)
    # a platform with only failures: rates are 0 or missing, never a crash
    assert (b["published"], b["failed"], b["retried"], b["dead_lettered"]) == (0, 2, 1, 2)
    assert b["success_rate"] == 0.0
    assert all(math.isnan(b[c]) for c in ("on_time_rate", "lag_p50_s", "lag_p95_s", "lag_p99_s"))
    assert "| bluesky | 0 | 2 | 1 | 2 | 0 | - | - | - | - |" in markdown_table(
        df.drop(columns=["day", "workspace_id"])
    )


def test_publish_outcomes_other_days_and_empty_days(app, world):
    with app.db.read() as s:
        yesterday = publish_outcomes(s, since=DAY_START - timedelta(days=1), until=DAY_START)
        empty = publish_outcomes(
            s, since=DAY_START - timedelta(days=3), until=DAY_START - timedelta(days=2)
        )
        window = publish_outcomes(
            s, since=DAY_START - timedelta(days=2), until=DAY_END, by_day=False
        )
    assert yesterday[["platform", "published", "lag_p50_s"]].values.tolist() == [
        ["mastodon", 1, 5.0]
    ]
    assert empty.empty and list(empty.columns) == OUTCOME_COLUMNS
    totals = _by_platform(platform_totals(window))
    assert (totals["mastodon"]["published"], totals["x"]["failed"]) == (5, 2)
    assert totals["x"]["success_rate"] == pytest.approx(2 / 4)


def test_queue_health_by_hand(app, world):
    with app.db.read() as s:
        backlog = queue_backlog(s, now=NOW)
        summary = queue_summary(s, now=NOW)
    got = {(r.status, r.age): r.jobs for r in backlog.itertuples()}
    assert got == {
        ("pending", "15-60 min"): 2,  # carol's two, due 20 min ago
        ("pending", "not due yet"): 2,  # alice's future one and bob's requeued one
        ("retrying", "0-5 min"): 1,  # bob's, due 3 min ago
        ("retrying", "not due yet"): 2,
        ("running", "15-60 min"): 1,  # lease expired 30 min ago
    }
    assert summary["dueNow"] == 3 and summary["overdue"] == 2 and summary["expiredLeases"] == 1
    assert summary["oldestDueAt"] == (NOW - timedelta(minutes=20)).isoformat()
    assert summary["oldestWaitingSeconds"] == 1200.0
    # finished within the last hour: 6 completed + 2 failed at -30 min (not the one at -90)
    assert summary["finishedLastHour"] == 8
    assert summary["processingRatePerMinute"] == round(8 / 60, 3)


def test_token_health_by_hand(app, world):
    with app.db.read() as s:
        df = token_health(s, now=NOW)
    rows = {r["handle"]: r for r in df.to_dict("records")}
    assert math.isnan(rows["alice"]["expires_in_h"])  # never expires
    assert not rows["alice"]["expiring_24h"] and not rows["alice"]["expiring_7d"]
    assert rows["bob"]["expires_in_h"] == 3.0 and rows["bob"]["expiring_24h"]
    # held: her two pending jobs and the one retrying
    assert rows["carol"]["needs_reconnect"] and rows["carol"]["held_jobs"] == 3
    assert rows["dave"]["expires_in_h"] == 120.0
    assert not rows["dave"]["expiring_24h"] and rows["dave"]["expiring_7d"]
    assert rows["dave"]["refresh_failures_7d"] == 1  # the one 8 days ago is out of the window
    assert token_summary(df) == {
        "accounts": 4,
        "expiring_24h": 1,
        "expiring_7d": 2,
        "refresh_failures_7d": 1,
        "to_reconnect": 1,
        "held_jobs": 3,
    }
    assert "| - |" in markdown_table(df)  # the crash of the old health job: now a dash


def test_workspace_activity_and_event_counts(app, world):
    with app.db.read() as s:
        df = workspace_activity(s, since=DAY_START, until=DAY_END)
        counts = event_counts(s, since=DAY_START, until=DAY_END)
    rows = {r["slug"]: r for r in df.to_dict("records")}
    acme = rows["acme"]
    assert (acme["posts_created"], acme["published"], acme["failed"]) == (17, 6, 4)
    assert acme["success_rate"] == pytest.approx(6 / 10)
    assert acme["accounts_published"] == 2
    # waiting: carol 2 + alice future 1 + bob requeued 1 + 3 retrying
    assert (acme["waiting_now"], acme["dead_letter_now"]) == (7, 3)
    assert rows["quiet"]["published"] == 0 and math.isnan(rows["quiet"]["success_rate"])
    assert (counts["published"], counts["failed"], counts["retried"]) == (6, 4, 2)
    assert counts["tokensRefreshed"] == 1 and counts["successRate"] == 0.6
    assert counts["byPlatform"]["bluesky"] == {"failed": 2, "retried": 1}


def test_checks_fail_on_the_world_and_pass_once_fixed(app, world):
    with app.db.read() as s:
        outcomes = publish_outcomes(s, since=DAY_START, until=DAY_END)
        tokens = token_health(s, now=NOW)
        late = checks.overdue(s, now=NOW)
    assert not late.passed
    assert sorted(r["job_id"] for r in late.rows) == sorted(world["waiting"] + world["stuck"])
    assert {r["minutes_late"] for r in late.rows} == {20.0, 30.0}
    rate = checks.failure_rate(outcomes)
    # x: 1 of 3 failed (> 20 %); mastodon 1 of 5 is exactly 20 %; bluesky has 2 < 3 finished
    assert not rate.passed and [r["platform"] for r in rate.rows] == ["x"]
    assert checks.failure_rate(outcomes, min_finished=2).rows[0]["platform"] == "bluesky"
    assert checks.on_time(outcomes).passed  # worst p99 is x's 149 s < 300 s
    tight = checks.on_time(outcomes, p99_bound_s=100)
    assert [r["platform"] for r in tight.rows] == ["x"]
    held = checks.reconnect(tokens)
    assert not held.passed and held.rows == [
        {
            "account_id": world["carol"].id,
            "platform": "bluesky",
            "handle": "carol",
            "status": "reconnect_needed",  # the legacy revoked, as it is read
            "held_jobs": 3,
        }
    ]
    assert checks.tokens_refreshed(tokens).passed  # bob's 3 h is above the 30 min bound
    assert not checks.tokens_refreshed(tokens, hours=4).passed

    with app.db.session() as s:
        for job in s.query(PublishJob).filter(PublishJob.status != JobStatus.COMPLETED):
            job.status = JobStatus.CANCELED
    with app.db.read() as s:
        assert checks.overdue(s, now=NOW).passed
        assert checks.reconnect(token_health(s, now=NOW)).passed
    empty = publish_outcomes  # an empty day passes every outcome check
    with app.db.read() as s:
        nothing = empty(s, since=DAY_START - timedelta(days=3), until=DAY_START - timedelta(days=2))
    assert checks.failure_rate(nothing).passed and checks.on_time(nothing).passed


def test_engagement_check_and_best_times_with_dst_and_gaps():
    berlin = "Europe/Berlin"
    # 2026-10-25 is the day Berlin falls back: 00:30 UTC is 02:30 CEST, 01:30 UTC is 02:30 CET
    df = pd.DataFrame(
        [
            ("a1", "alice", "mastodon", "2026-10-25T00:30:00Z", 5, 1, 0, "ok"),
            ("a1", "alice", "mastodon", "2026-10-25T01:30:00Z", 3, None, 1, "ok"),
            ("a1", "alice", "mastodon", "2026-10-26T08:00:00Z", 1, 0, 0, "ok"),  # Mon 09:00
            ("a1", "alice", "mastodon", "2026-10-27T08:00:00Z", None, None, None, "ok"),
            ("b1", "bob", "x", "2026-10-25T12:00:00Z", 2, 2, 2, "ok"),
            ("c1", "carol", "bluesky", "2026-10-25T12:00:00Z", None, None, None, "failed"),
        ],
        columns=[
            "account_id",
            "handle",
            "platform",
            "published_at",
            "likes",
            "reposts",
            "replies",
            "status",
        ],
    )
    df["published_at"] = pd.to_datetime(df["published_at"], utc=True)
    df["error"] = [None] * 5 + ["TransientError: 503"]
    best = best_posting_times(df, {"a1": berlin, "b1": "UTC"})
    alice = best[best["account_id"] == "a1"]
    # both 02:30 posts land on Sun 02:00 local despite the hour repeating: (6 + 4) / 2 = 5
    assert alice[["rank", "slot", "posts", "mean_engagement"]].values.tolist() == [
        [1, "Sun 02:00", 2, 5.0],
        [2, "Mon 09:00", 1, 1.0],
    ]
    assert best[best["account_id"] == "b1"]["slot"].tolist() == ["Sun 12:00"]
    assert "c1" not in set(best["account_id"])  # no known counts, no proposal
    bad = checks.engagement_pulls(df)
    assert not bad.passed and [r["account_id"] for r in bad.rows] == ["c1"]
    assert checks.engagement_pulls(df[df["status"] == "ok"]).passed
    assert best_posting_times(df.iloc[0:0], {}).empty


def test_report_renders_charts_that_decode(app, world, tmp_path):
    with app.db.read() as s:
        history = publish_outcomes(s, since=DAY_START - timedelta(days=13), until=DAY_END)
        lags = publish_events(s, since=DAY_START, until=DAY_END)
    empty_engagement = pd.DataFrame(columns=["platform", "posts", "likes", "reposts", "replies"])
    report = build_report(
        "2026-11-28",
        history=history,
        lags=lags,
        engagement_by_platform=empty_engagement,
        tables={"Outcomes": history},
        figures={"published": 7},
    )
    for name, png in report.charts.items():
        with Image.open(io.BytesIO(png)) as img:
            assert img.format == "PNG" and img.size == pixel_size(name)
    md = report.markdown()
    assert md.count("](data:image/png;base64,") == 3 and "## Outcomes" in md
    paths = report.write(tmp_path / "r")
    assert sorted(p.name for p in paths.values()) == [
        "engagement.png",
        "lag.png",
        "report.html",
        "volume.png",
    ]
    page = paths["html"].read_text()
    assert page.count("data:image/png;base64,") == 3 and "<td>-</td>" in page
    with Image.open(paths["volume"]) as img:
        assert img.size == (640, 480)
    # nothing at all still renders
    blank = build_report(
        "2026-11-25",
        history=history.iloc[0:0],
        lags=lags.iloc[0:0],
        engagement_by_platform=empty_engagement,
        tables={},
    )
    with Image.open(io.BytesIO(blank.charts["lag"])) as img:
        assert img.size == pixel_size("lag")
