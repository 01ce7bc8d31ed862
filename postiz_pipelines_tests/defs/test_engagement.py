"""Engagement pulled through every provider that reads it from a sandbox served over TCP,
materialized through Dagster; its change over time, failing pulls (an outage, a rate limit,
a spent quota), deleted posts, and a platform that exposes nothing (Telegram)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from dagster import materialize
from PIL import Image
from sqlalchemy import select

from postiz_pipelines.cli.demo import _demo_video
from postiz_pipelines.cli.sandbox_accounts import connect_sandbox_accounts
from postiz_pipelines.clock import FixedClock, SystemClock, utcnow
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.events import EventType
from postiz_pipelines.core.media.assets import ingest
from postiz_pipelines.core.media.storage import LocalStorage
from postiz_pipelines.core.models import AnalyticsEvent, PostTarget, QuotaLedger
from postiz_pipelines.core.observability.engagement import pull_engagement
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.publishing.quota import used
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.core.workspaces.store import create_workspace
from postiz_pipelines.defs.analytics import AnalyticsClock, best_posting_times, post_engagement
from postiz_pipelines.defs.checks import engagement_pulls_succeed
from postiz_pipelines.defs.resources import PostizResource
from postiz_pipelines.sandbox.engagement import EngagementSpec, default_spec
from postiz_pipelines.sandbox.tiktok_world import tiktok_world
from postiz_pipelines.settings import Settings

PLATFORMS = [
    "bluesky",
    "discord",
    "facebook",
    "instagram",
    "linkedin",
    "mastodon",
    "pinterest",
    "reddit",
    "slack",
    "telegram",
    "threads",
    "tiktok",
    "x",
    "youtube",
]
IMAGE_ONLY = {"instagram", "pinterest"}
VIDEO_ONLY = {"tiktok", "youtube"}
COUNTS = {
    "mastodon": {"likes": 3, "reposts": 1, "replies": 2},  # Mastodon has no views
    "bluesky": {"likes": 7, "reposts": 2, "replies": 0},
    "x": {"likes": 10, "reposts": 4, "replies": 1, "views": 500},
    "linkedin": {"likes": 4, "replies": 3},  # social actions: likes and comments
    "facebook": {"likes": 6, "views": 120},  # insights: reactions and impressions
    "instagram": {"likes": 9, "reposts": 1, "replies": 2, "views": 300},
    "threads": {"likes": 5, "reposts": 2, "replies": 1, "views": 90},
    "youtube": {"likes": 11, "replies": 4, "views": 1500},  # videos.list statistics
    "tiktok": {"likes": 30, "reposts": 6, "replies": 8, "views": 2400},  # video/query
    "pinterest": {"reposts": 3, "views": 210},  # analytics: saves and impressions
    "reddit": {"likes": 42, "reposts": 1, "replies": 7},  # score, crossposts, comments
    "slack": {"likes": 4, "replies": 2},  # reactions, thread replies
    "discord": {"likes": 6, "replies": 0},  # reactions, thread messages
}
PULLED = set(COUNTS)


@pytest.fixture
def published(sandbox, embedded_env):  # type: ignore[no-untyped-def]
    url, state = sandbox
    env = {
        **embedded_env,
        "POSTIZ_SANDBOX_URL": url,
        "POSTIZ_PUBLIC_URL": "https://posts.example",
    }
    app = AppContext.from_settings(Settings.from_env(env))
    now = utcnow()
    jpeg = io.BytesIO()
    Image.new("RGB", (1080, 1080), (20, 120, 60)).save(jpeg, "JPEG")
    storage = LocalStorage(app.media_root)
    tiktok_world(state).audited = True  # public posts get a video id to read counts of
    tiktok_world(state).processing_polls = 0
    with app.db.session() as s:
        ws = create_workspace(s, slug="acme", timezone="America/New_York", now=now)
        accounts = connect_sandbox_accounts(
            s, app.keyring, workspace=ws, sandbox_url=url, now=now, platforms=PLATFORMS
        )
        for a in accounts:
            if a.platform == "tiktok":
                a.settings = {**(a.settings or {}), "audited": True}
        staged = storage.stage()
        staged.write(jpeg.getvalue())
        image, _ = ingest(s, storage, staged, workspace_id=ws.id, filename="a.jpg", now=now)
        video = _demo_video(s, ws, app.media_root, now, storage)
        create_post(
            s,
            workspace=ws,
            text="How many likes? 🤔",
            account_ids=[a.id for a in accounts if a.platform not in IMAGE_ONLY | VIDEO_ONLY],
            scheduled_at=None,
            now=now,
        )
        create_post(
            s,
            workspace=ws,
            text="And on Instagram? 📸",
            media_ids=[image.id],
            account_ids=[a.id for a in accounts if a.platform in IMAGE_ONLY],
            scheduled_at=None,
            now=now,
            media_root=app.media_root,
        )
        create_post(
            s,
            workspace=ws,
            text="Ein Video für alle 🎬",
            media_ids=[video],
            account_ids=[a.id for a in accounts if a.platform in VIDEO_ONLY],
            scheduled_at=None,
            now=now,
            media_root=app.media_root,
            settings={"privacy_level": "PUBLIC_TO_EVERYONE"},
        )
    report = publish_due(app, owner="t", clock=SystemClock())
    assert report.count("completed") == len(PLATFORMS), report.as_dict()
    with app.db.read() as s:
        targets = {t.account.platform: t for t in s.scalars(select(PostTarget))}
        remote = {p: t.remote_id for p, t in targets.items()}
    for platform, counts in COUNTS.items():
        state.set_engagement(platform, remote[platform], EngagementSpec(since=now, base=counts))
    yield app, env, state, remote
    app.close()


def _rows(df):  # type: ignore[no-untyped-def]
    return {r["platform"]: r for r in df.to_dict("records")}


def test_engagement_through_dagster_then_its_change(published, instance):
    app, env, state, remote = published
    resources = {
        "postiz": PostizResource(
            database_url=env["POSTIZ_DATABASE_URL"],
            data_dir=env["POSTIZ_DATA_DIR"],
            sandbox_url=env["POSTIZ_SANDBOX_URL"],
            settings_overrides={"POSTIZ_PUBLIC_URL": env["POSTIZ_PUBLIC_URL"]},
        ),
        "analytics_clock": AnalyticsClock(),
    }
    result = materialize(
        [post_engagement, best_posting_times, engagement_pulls_succeed],
        instance=instance,
        resources=resources,
    )
    assert result.success
    rows = _rows(result.output_for_node("post_engagement"))
    for platform, counts in COUNTS.items():
        assert rows[platform]["status"] == "ok"
        assert {m: rows[platform][m] for m in counts} == counts
        assert rows[platform]["engagement"] == sum(
            counts.get(m, 0) for m in ("likes", "reposts", "replies")
        )
    assert rows["mastodon"]["views"] != rows["mastodon"]["views"]  # NaN: not exposed
    assert rows["linkedin"]["reposts"] != rows["linkedin"]["reposts"]
    for platform, metric in (
        ("youtube", "reposts"),
        ("pinterest", "likes"),
        ("pinterest", "replies"),
        ("reddit", "views"),
        ("slack", "views"),
        ("discord", "reposts"),
    ):
        assert rows[platform][metric] != rows[platform][metric]  # NaN: not exposed
    assert rows["discord"]["replies"] == 0  # exposed, and none yet
    assert rows["telegram"]["status"] == "unsupported"  # bots cannot read engagement
    [mat] = result.asset_materializations_for_node("post_engagement")
    assert mat.metadata["status_ok"].value == len(PULLED)
    assert mat.metadata["status_unsupported"].value == 1  # telegram
    by_platform = mat.metadata["by_platform"].value
    for platform in ("youtube", "tiktok", "pinterest", "reddit", "slack", "discord"):
        assert f"| {platform} |" in by_platform
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["posts_pulled"].value == len(PULLED)
    best = result.output_for_node("best_posting_times")
    assert set(best["platform"]) == PULLED
    assert set(best["timezone"]) == {"America/New_York"} and set(best["rank"]) == {1}

    # later: more likes on Mastodon, one more reply on Bluesky
    state.set_engagement(
        "mastodon", remote["mastodon"], EngagementSpec(utcnow(), {**COUNTS["mastodon"], "likes": 8})
    )
    state.set_engagement(
        "bluesky", remote["bluesky"], EngagementSpec(utcnow(), {**COUNTS["bluesky"], "replies": 1})
    )
    again = _rows(pull_engagement(app, now=utcnow()))
    assert again["mastodon"]["likes"] == 8 and again["mastodon"]["likes_change"] == 5
    assert again["bluesky"]["replies_change"] == 1 and again["x"]["likes_change"] == 0
    assert again["youtube"]["views_change"] == 0 and again["tiktok"]["likes_change"] == 0
    with app.db.read() as s:
        snapshots = s.scalars(
            select(AnalyticsEvent.id).where(
                AnalyticsEvent.event_type == EventType.ENGAGEMENT_PULLED
            )
        ).all()
    assert len(snapshots) == 2 * len(PULLED)  # every post, pulled twice


def test_a_failing_pull_and_a_deleted_post(published):
    app, env, state, remote = published
    state.faults.set("bluesky", outage=True)
    with app.db.session() as s:
        x_target = s.scalars(select(PostTarget).where(PostTarget.remote_id == remote["x"])).one()
        x_target.remote_id = "1860000000000999999"  # a post X no longer has
    state.delete_post("reddit", remote["reddit"])  # its author deleted it: a tombstone
    state.faults.set("slack", burst_429=1, endpoints=frozenset({"POST /api/reactions.get"}))
    state.delete_post("discord", remote["discord"])
    rows = _rows(pull_engagement(app, now=utcnow()))
    assert rows["bluesky"]["status"] == "failed" and "TransientError" in rows["bluesky"]["error"]
    assert rows["slack"]["status"] == "failed" and "RateLimited" in rows["slack"]["error"]
    assert rows["reddit"]["status"] == "deleted" and rows["discord"]["status"] == "deleted"
    assert rows["youtube"]["status"] == "ok" and rows["tiktok"]["status"] == "ok"
    assert rows["bluesky"]["likes"] != rows["bluesky"]["likes"]  # NaN, not 0
    assert rows["x"]["status"] == "deleted"
    assert rows["mastodon"]["status"] == "ok"  # one platform's failure spares the others
    with app.db.read() as s:
        failures = s.scalars(
            select(AnalyticsEvent.platform).where(
                AnalyticsEvent.event_type == EventType.ENGAGEMENT_PULL_FAILED
            )
        ).all()
    assert sorted(failures) == ["bluesky", "slack"]


def test_youtube_reads_reserve_the_shared_quota_and_stop_when_it_is_spent(published):
    app, env, state, remote = published
    now = utcnow()
    with app.db.read() as s:
        before = used(s, "youtube", zone="America/Los_Angeles", now=now)
    rows = _rows(pull_engagement(app, now=now))
    assert rows["youtube"]["status"] == "ok"
    with app.db.session() as s:
        assert used(s, "youtube", zone="America/Los_Angeles", now=now) == before + 1
        ledger = s.scalars(select(QuotaLedger).where(QuotaLedger.scope == "platform:youtube"))
        for row in ledger:
            row.units_used = row.budget  # every unit of today is spent
    rows = _rows(pull_engagement(app, now=now))
    assert rows["youtube"]["status"] == "failed" and "quota" in rows["youtube"]["error"]
    assert rows["tiktok"]["status"] == "ok"  # other platforms are not held by YouTube's quota
    assert state.request_count("youtube", "GET /youtube/v3/videos") == 1  # no call past it


def test_sandbox_engagement_grows_over_time():
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # a DST night in Europe, UTC is steady
    spec = EngagementSpec(since=start, base={"likes": 2}, per_hour={"likes": 1.5, "views": 40})
    assert spec.at(start) == {"likes": 2, "reposts": 0, "replies": 0, "views": 0}
    assert spec.at(start + timedelta(hours=3)) == {
        "likes": 6,
        "reposts": 0,
        "replies": 0,
        "views": 120,
    }
    assert spec.at(start - timedelta(hours=1))["likes"] == 2  # never before it was set
    growing = default_spec("109", start)
    rate = growing.per_hour["likes"]
    assert 1 <= rate <= 6 and growing.at(start + timedelta(hours=2))["likes"] == int(2 * rate)
    assert default_spec("109", start) == growing  # the same post grows the same way
    clock = FixedClock(start)
    assert clock.now() == start
