"""``GET /api/postiz/worker/stats`` keeps the seed's shape and agrees, figure for figure,
with the analytics assets' functions over the fixed analytics world."""

from __future__ import annotations

from datetime import timedelta

import pytest

from postiz_pipelines.core.observability.activity import workspace_activity
from postiz_pipelines.core.observability.queue_health import queue_summary
from postiz_pipelines_tests.analytics_world import NOW, build

STATS = "/api/postiz/worker/stats"


@pytest.fixture
def analytics(app, make, clock):  # type: ignore[no-untyped-def]
    assert clock.now() == NOW
    return build(app, make)


def test_stats_agree_with_the_assets(client, worker_headers, analytics, app):
    stats = client.get(STATS, headers=worker_headers).json()
    assert set(stats) >= {"timestamp", "queue", "activity", "workspaces"}
    with app.db.read() as s:
        queue = queue_summary(s, now=NOW)
        since = NOW - timedelta(hours=24)
        activity = workspace_activity(s, since=since, until=NOW + timedelta(microseconds=1))
    assert stats["queue"] == queue
    assert stats["queue"]["byStatus"]["running"] == 1 and stats["queue"]["dueNow"] == 3
    acme = {w["slug"]: w for w in stats["workspaces"]}["acme"]
    row = activity[activity["slug"] == "acme"].iloc[0]
    assert acme == {
        "id": analytics["acme"].id,
        "slug": "acme",
        "waiting": int(row["waiting_now"]),
        "deadLetter": int(row["dead_letter_now"]),
        "published24h": int(row["published"]),
        "failed24h": int(row["failed"]),
    }
    # the last 24 h hold today's events and yesterday's at exactly -24 h
    assert (acme["published24h"], acme["failed24h"], acme["waiting"]) == (7, 4, 7)
    assert stats["activity"]["published"] == 7 and stats["activity"]["retried"] == 2
    assert stats["activity"]["successRate"] == round(7 / 11, 4)
