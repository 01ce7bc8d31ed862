"""The sandbox's engagement reads in their platforms' own shapes, driven over httpx without
any provider: YouTube's string statistics, TikTok's requested fields, Slack's and Discord's
missing ``reactions`` on a message nobody reacted to, and each platform's refusals."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.engagement import EngagementSpec
from postiz_pipelines.sandbox.state import AcceptedPost

COUNTS = {"likes": 7, "reposts": 2, "replies": 4, "views": 900}


def _post(state: SandboxState, platform: str, token: str, remote_id: str, **extra: Any) -> None:
    account = state.provision(platform, token, username="alice")
    state.record_post(
        AcceptedPost(
            platform=platform,
            account_id=account.id,
            handle="alice",
            text="Ünïcödé 🎉",
            remote_id=remote_id,
            created_at=state.now(),
            extra=extra,
        )
    )


def _run(client: httpx.AsyncClient, method: str, url: str, **kw: Any) -> httpx.Response:
    return asyncio.run(client.request(method, url, **kw))


def test_youtube_statistics_are_strings_and_fifty_ids_at_most(
    sandbox_state: SandboxState, sandbox_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    extra = {
        "privacyStatus": "private",
        "madeForKids": False,
        "channelId": "UC1",
        "title": "Clip",
        "tags": [],
        "categoryId": "22",
    }
    _post(sandbox_state, "youtube", "yt", "vid00000001", **extra)
    sandbox_state.set_engagement("youtube", "vid00000001", EngagementSpec(clock.now(), COUNTS))
    auth = {"Authorization": "Bearer yt"}
    r = _run(
        sandbox_client,
        "GET",
        "/youtube/youtube/v3/videos",
        params={"part": "statistics", "id": "vid00000001,gone"},
        headers=auth,
    )
    [item] = r.json()["items"]
    assert item["statistics"] == {
        "viewCount": "900",
        "likeCount": "7",
        "favoriteCount": "0",
        "commentCount": "4",
    }
    assert "snippet" not in item  # only the parts asked for
    many = ",".join(f"v{i}" for i in range(51))
    r = _run(
        sandbox_client,
        "GET",
        "/youtube/youtube/v3/videos",
        params={"part": "statistics", "id": many},
        headers=auth,
    )
    assert r.status_code == 400 and r.json()["error"]["errors"][0]["reason"] == "invalidFilters"


def test_tiktok_video_query_answers_only_the_fields_asked_for(
    sandbox_state: SandboxState, sandbox_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    _post(sandbox_state, "tiktok", "tt", "7400000000000000001")
    sandbox_state.set_engagement(
        "tiktok", "7400000000000000001", EngagementSpec(clock.now(), COUNTS)
    )
    auth = {"Authorization": "Bearer tt"}
    body = {"filters": {"video_ids": ["7400000000000000001", "7400000000000000002"]}}
    r = _run(
        sandbox_client,
        "POST",
        "/tiktok/v2/video/query/?fields=id,like_count,view_count",
        json=body,
        headers=auth,
    )
    assert r.json()["error"]["code"] == "ok"
    assert r.json()["data"]["videos"] == [
        {"id": "7400000000000000001", "like_count": 7, "view_count": 900}
    ]
    bad = _run(
        sandbox_client,
        "POST",
        "/tiktok/v2/video/query/?fields=id,plays",
        json=body,
        headers=auth,
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_params"
    assert "plays" in bad.json()["error"]["message"]
    too_many = {"filters": {"video_ids": [str(i) for i in range(21)]}}
    r = _run(
        sandbox_client, "POST", "/tiktok/v2/video/query/?fields=id", json=too_many, headers=auth
    )
    assert r.status_code == 400 and "1 to 20" in r.json()["error"]["message"]


def test_slack_and_discord_leave_reactions_out_until_someone_reacts(
    sandbox_state: SandboxState, sandbox_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    _post(sandbox_state, "slack", "xoxb-1", "1764331200.000001", channel="C1")
    sandbox_state.set_engagement("slack", "1764331200.000001", EngagementSpec(clock.now()))
    params = {"channel": "C1", "timestamp": "1764331200.000001"}
    auth = {"Authorization": "Bearer xoxb-1"}
    r = _run(sandbox_client, "POST", "/slack/api/reactions.get", data=params, headers=auth)
    assert r.json()["ok"] is True
    assert "reactions" not in r.json()["message"] and "reply_count" not in r.json()["message"]
    sandbox_state.set_engagement("slack", "1764331200.000001", EngagementSpec(clock.now(), COUNTS))
    r = _run(sandbox_client, "POST", "/slack/api/reactions.get", data=params, headers=auth)
    message = r.json()["message"]
    assert [(x["name"], x["count"]) for x in message["reactions"]] == [("+1", 5), ("tada", 2)]
    assert message["reply_count"] == 4
    gone = {**params, "timestamp": "1764331200.000099"}
    r = _run(sandbox_client, "POST", "/slack/api/reactions.get", data=gone, headers=auth)
    assert (r.status_code, r.json()) == (200, {"ok": False, "error": "message_not_found"})

    _post(
        sandbox_state,
        "discord",
        "bot-1",
        "1300000000000000001",
        channel_id="1200000000000000001",
        author_id="9",
    )
    url = "/discord/api/v10/channels/1200000000000000001/messages/1300000000000000001"
    bot = {"Authorization": "Bot bot-1"}
    sandbox_state.set_engagement("discord", "1300000000000000001", EngagementSpec(clock.now()))
    r = _run(sandbox_client, "GET", url, headers=bot)
    assert r.status_code == 200 and "reactions" not in r.json() and "thread" not in r.json()
    sandbox_state.set_engagement(
        "discord", "1300000000000000001", EngagementSpec(clock.now(), COUNTS)
    )
    r = _run(sandbox_client, "GET", url, headers=bot)
    assert [x["count"] for x in r.json()["reactions"]] == [5, 2]
    assert r.json()["thread"]["message_count"] == 4
    missing = _run(sandbox_client, "GET", url[:-1] + "9", headers=bot)
    assert missing.status_code == 404 and missing.json()["code"] == 10008
