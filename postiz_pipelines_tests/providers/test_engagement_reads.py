"""Engagement read through each provider from its sandbox twin over httpx: YouTube, TikTok,
Pinterest, Reddit, Slack and Discord. Counts mapped into the shared shape and growing with
the clock, a post with none yet, non-ASCII posts, a deleted post, a rate limit, a dead
token; then each platform's own edges (quota units, private TikTok posts, webhooks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import AuthExpired, AuthRevoked, ProviderError, RateLimited
from postiz_pipelines.providers.base import (
    AccountCredentials,
    Engagement,
    MediaFile,
    PostContent,
    Provider,
)
from postiz_pipelines.providers.discord import DiscordProvider
from postiz_pipelines.providers.pinterest import PinterestProvider
from postiz_pipelines.providers.reddit import RedditProvider
from postiz_pipelines.providers.slack import SlackProvider
from postiz_pipelines.providers.tiktok import TikTokProvider
from postiz_pipelines.providers.youtube import YouTubeProvider
from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.engagement import EngagementSpec
from postiz_pipelines.sandbox.pinterest import board_id
from postiz_pipelines.sandbox.tiktok_world import tiktok_world
from postiz_pipelines.sandbox.youtube_world import pacific_day, youtube_world

TEXT = "Grüße aus Köln 🎉 日本語のテキスト"
BASE = {"likes": 5, "reposts": 2, "replies": 3, "views": 400}
RATE = {"likes": 2, "reposts": 1, "replies": 1, "views": 60}
# which of likes, reposts, replies, views each platform exposes
EXPOSED = {
    "youtube": ("likes", "replies", "views"),
    "tiktok": ("likes", "reposts", "replies", "views"),
    "pinterest": ("reposts", "views"),  # saves and impressions
    "reddit": ("likes", "reposts", "replies"),  # score, crossposts, comments
    "slack": ("likes", "replies"),  # reactions, thread replies
    "discord": ("likes", "replies"),  # reactions, thread messages
}
READ_ENDPOINT = {
    "youtube": "GET /youtube/v3/videos",
    "tiktok": "POST /v2/video/query/",
    "pinterest": "GET /v5/pins/{pin_id}/analytics",
    "reddit": "GET /api/info",
    "slack": "POST /api/reactions.get",
    "discord": "GET /api/v10/channels/{channel_id}/messages/{message_id}",
}
MISSING = {
    "youtube": "dQw4w9WgXcQ",
    "tiktok": "7400000000000099999",
    "pinterest": "999999999999",
    "reddit": "t3_zzzzzz",
    "slack": "1700000000.999999",
    "discord": "1098765432109876999",
}


@dataclass
class Case:
    platform: str
    provider: Provider
    account: AccountCredentials
    token: str
    publish: Callable[[str], str]  # text -> remote id
    media: tuple[MediaFile, ...]


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def _make(
    platform: str,
    state: SandboxState,
    http: httpx.AsyncClient,
    url: str,
    clock: FixedClock,
    image: Callable[..., MediaFile],
    video: Callable[..., MediaFile],
) -> Case:
    token = f"tok-{platform}-alice"
    user = state.provision(platform, token, username="alice")
    creds = AccountCredentials(
        f"acc_{platform}", platform, "alice", user.id, Secret(token), refresh_token=Secret("r")
    )
    provider: Provider
    media: tuple[MediaFile, ...] = ()
    settings: dict[str, Any] = {}
    if platform == "youtube":
        provider = YouTubeProvider(http, base_url=f"{url}/youtube", chunk_size=256 * 1024)
        media = (video(),)
    elif platform == "tiktok":
        provider = TikTokProvider(
            http, base_url=f"{url}/tiktok", poll_interval=1, max_polls=5, clock=clock
        )
        tiktok_world(state).audited = True
        creds.settings["audited"] = True
        media = (video(),)
        settings = {"privacy_level": "PUBLIC_TO_EVERYONE"}
    elif platform == "pinterest":
        provider = PinterestProvider(http, base_url=f"{url}/pinterest", clock=clock)
        creds.settings["board_id"] = board_id(user)
        media = (image("pin.png", 600, 900),)
    elif platform == "reddit":
        provider = RedditProvider(
            http, base_url=f"{url}/reddit", user_agent="python:postiz-tests:1.0", clock=clock
        )
        settings = {"subreddit": "test"}
    elif platform == "slack":
        provider = SlackProvider(http, clock=clock)
        creds = AccountCredentials(
            "acc_slack", "slack", "alice", "C0123456789", Secret(token), base_url=f"{url}/slack"
        )
    else:
        provider = DiscordProvider(http, clock=clock)
        creds = AccountCredentials(
            "acc_discord",
            "discord",
            "alice",
            "1098765432109876543",
            Secret(token),
            base_url=f"{url}/discord",
        )
    provider.clock = clock

    def publish(text: str) -> str:
        content = PostContent(text, media=media, settings=dict(settings))
        result = _run(provider.publish(creds, content, idempotency_key=f"k-{text}"))
        return result.remote_id

    return Case(platform, provider, creds, token, publish, media)


@pytest.fixture(params=sorted(EXPOSED))
def case(
    request: pytest.FixtureRequest,
    sandbox_state: SandboxState,
    sandbox_http: httpx.AsyncClient,
    sandbox_url: str,
    clock: FixedClock,
    image_file: Callable[..., MediaFile],
    video_file: Callable[..., MediaFile],
) -> Case:
    return _make(
        request.param, sandbox_state, sandbox_http, sandbox_url, clock, image_file, video_file
    )


def read(case: Case, *ids: str) -> list[Engagement]:
    return list(_run(case.provider.engagement(case.account, list(ids))))


def shape(e: Engagement) -> dict[str, int | None]:
    return {m: getattr(e, m) for m in ("likes", "reposts", "replies", "views")}


def expected(platform: str, counts: dict[str, int]) -> dict[str, int | None]:
    return {m: (counts[m] if m in EXPOSED[platform] else None) for m in counts}


def test_counts_map_into_the_shape_and_grow_with_the_clock(
    case: Case, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    assert type(case.provider).supports_engagement
    remote = case.publish(TEXT)
    sandbox_state.set_engagement(
        case.platform, remote, EngagementSpec(since=clock.now(), base=BASE, per_hour=RATE)
    )
    [now] = read(case, remote)
    assert now.remote_id == remote and now.found
    assert shape(now) == expected(case.platform, BASE)
    clock.advance(3 * 3600)
    [later] = read(case, remote)
    grown = {m: BASE[m] + 3 * RATE[m] for m in BASE}
    assert shape(later) == expected(case.platform, grown)


def test_a_post_with_no_engagement_yet_reads_zero_not_unknown(
    case: Case, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    remote = case.publish("Nothing yet… ✨")
    sandbox_state.set_engagement(case.platform, remote, EngagementSpec(since=clock.now()))
    [e] = read(case, remote)
    assert e.found and shape(e) == expected(case.platform, dict.fromkeys(BASE, 0))


def test_a_deleted_post_is_not_found_and_the_others_keep_their_order(
    case: Case, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    kept = case.publish("Bleibt stehen 🌲")
    gone = case.publish("Wird gelöscht 🗑️")
    sandbox_state.set_engagement(case.platform, kept, EngagementSpec(clock.now(), base=BASE))
    assert sandbox_state.delete_post(case.platform, gone) is not None
    found = read(case, gone, kept, MISSING[case.platform])
    assert [e.remote_id for e in found] == [gone, kept, MISSING[case.platform]]
    assert [e.found for e in found] == [False, True, False]
    assert shape(found[1]) == expected(case.platform, BASE)
    assert shape(found[0]) == dict.fromkeys(BASE)  # no counts for a post that is gone


def test_a_rate_limit_is_retryable_with_a_wait(case: Case, sandbox_state: SandboxState) -> None:
    remote = case.publish("Zu schnell ⏱")
    sandbox_state.faults.set(
        case.platform,
        burst_429=1,
        burst_reset_seconds=42,
        endpoints=frozenset({READ_ENDPOINT[case.platform]}),
    )
    with pytest.raises(RateLimited) as caught:
        read(case, remote)
    error = caught.value
    assert error.retryable and error.platform == case.platform
    assert error.retry_after is not None and 0 < error.retry_after <= 60
    assert case.token not in repr(error) and case.token not in str(error)
    assert read(case, remote)[0].found  # the burst is over


def test_a_revoked_token_is_an_auth_error(case: Case, sandbox_state: SandboxState) -> None:
    remote = case.publish("Token weg 🔑")
    sandbox_state.revoke_token(case.platform, case.token)
    with pytest.raises((AuthExpired, AuthRevoked)) as caught:
        read(case, remote)
    assert caught.value.platform == case.platform and case.token not in repr(caught.value)


# -- each platform's own edges -------------------------------------------------------------


@pytest.fixture
def make_case(
    sandbox_state: SandboxState,
    sandbox_http: httpx.AsyncClient,
    sandbox_url: str,
    clock: FixedClock,
    image_file: Callable[..., MediaFile],
    video_file: Callable[..., MediaFile],
) -> Callable[[str], Case]:
    return lambda p: _make(
        p, sandbox_state, sandbox_http, sandbox_url, clock, image_file, video_file
    )


def test_youtube_reads_spend_one_quota_unit_per_fifty_videos(
    make_case: Callable[[str], Case], sandbox_state: SandboxState, clock: FixedClock
) -> None:
    case = make_case("youtube")
    assert isinstance(case.provider, YouTubeProvider)
    remote = case.publish("Quota 🎬")
    spent = youtube_world(sandbox_state).spent[pacific_day(clock.now())]
    mine = case.provider.quota.spent(clock.now())
    found = read(case, *([remote] * 2), *(f"missing{i:03d}" for i in range(60)))
    assert len(found) == 62 and found[0].found and not found[-1].found
    assert youtube_world(sandbox_state).spent[pacific_day(clock.now())] == spent + 2
    assert case.provider.quota.spent(clock.now()) == mine + 2
    cost = case.provider.engagement_cost(62)
    assert (cost.units, cost.budget, cost.zone) == (2, 10_000, "America/Los_Angeles")


def test_youtube_quota_exceeded_waits_for_midnight_pacific(
    make_case: Callable[[str], Case], sandbox_state: SandboxState, clock: FixedClock
) -> None:
    case = make_case("youtube")
    remote = case.publish("Kein Kontingent 🎬")
    youtube_world(sandbox_state).spent[pacific_day(clock.now())] = 10_000
    with pytest.raises(RateLimited) as caught:
        read(case, remote)
    assert caught.value.code == "quotaExceeded" and caught.value.scope == "platform"
    # 12:00 UTC is 04:00 in Los Angeles: twenty hours to the reset
    assert caught.value.retry_after == pytest.approx(20 * 3600)


def test_a_tiktok_post_only_its_creator_sees_has_no_counts_to_ask_for(
    make_case: Callable[[str], Case], sandbox_state: SandboxState
) -> None:
    case = make_case("tiktok")
    tiktok_world(sandbox_state).audited = False
    case.account.settings["audited"] = False
    content = PostContent("Nur für mich 🔒", media=case.media)
    result = _run(case.provider.publish(case.account, content, idempotency_key="private"))
    assert not result.remote_id.isdigit()  # the publish id: TikTok gave no public video id
    before = sandbox_state.request_count("tiktok", READ_ENDPOINT["tiktok"])
    [e] = read(case, result.remote_id)
    assert e.found and shape(e) == dict.fromkeys(BASE)
    assert sandbox_state.request_count("tiktok", READ_ENDPOINT["tiktok"]) == before  # no call


def test_a_reddit_post_deleted_by_its_author_is_a_tombstone_read_as_gone(
    make_case: Callable[[str], Case], sandbox_state: SandboxState, sandbox_http: httpx.AsyncClient
) -> None:
    case = make_case("reddit")
    remote = case.publish("Bald weg 🗑️")
    sandbox_state.delete_post("reddit", remote)
    answer = _run(
        sandbox_http.get(
            "http://sandbox.test/reddit/api/info",
            params={"id": remote},
            headers={"Authorization": f"Bearer {case.token}", "User-Agent": "python:t:1.0"},
        )
    )
    [child] = answer.json()["data"]["children"]
    assert child["data"]["author"] == "[deleted]"
    assert child["data"]["removed_by_category"] == "deleted"
    assert read(case, remote)[0].found is False


def test_a_discord_webhook_reads_its_own_messages(
    sandbox_state: SandboxState, sandbox_http: httpx.AsyncClient, clock: FixedClock
) -> None:
    hook = AccountCredentials(
        "acc_hook",
        "discord",
        "announcements",
        "1111",
        Secret("webhook-token-secret"),
        base_url="http://sandbox.test/discord",
        settings={"target": "webhook"},
    )
    provider = DiscordProvider(sandbox_http, clock=clock)
    content = PostContent("Ankündigung 📣")
    remote = _run(provider.publish(hook, content, idempotency_key="h")).remote_id
    sandbox_state.set_engagement("discord", remote, EngagementSpec(clock.now(), base=BASE))
    [e] = _run(provider.engagement(hook, [remote]))
    assert (e.likes, e.replies, e.reposts, e.views) == (5, 3, None, None)
    other = AccountCredentials(
        "acc_hook2",
        "discord",
        "other",
        "2222",
        Secret("another-webhook-token"),
        base_url="http://sandbox.test/discord",
        settings={"target": "webhook"},
    )
    [theirs] = _run(provider.engagement(other, [remote]))
    assert theirs.found is False  # a webhook reads only the messages it sent


def test_pinterest_analytics_refuse_a_range_past_ninety_days(
    make_case: Callable[[str], Case], sandbox_http: httpx.AsyncClient, clock: FixedClock
) -> None:
    case = make_case("pinterest")
    remote = case.publish("Herbst 🍂")
    today = clock.now().date()
    answer = _run(
        sandbox_http.get(
            f"http://sandbox.test/pinterest/v5/pins/{remote}/analytics",
            params={
                "start_date": (today - timedelta(days=91)).isoformat(),
                "end_date": today.isoformat(),
                "metric_types": "IMPRESSION",
            },
            headers={"Authorization": f"Bearer {case.token}"},
        )
    )
    assert answer.status_code == 400 and "start_date" in answer.json()["message"]
    yesterday = _run(
        sandbox_http.get(
            f"http://sandbox.test/pinterest/v5/pins/{remote}/analytics",
            params={
                "start_date": (today - timedelta(days=3)).isoformat(),
                "end_date": (today - timedelta(days=1)).isoformat(),
                "metric_types": "IMPRESSION,SAVE",
            },
            headers={"Authorization": f"Bearer {case.token}"},
        )
    )
    assert yesterday.json() == {"all": {"summary_metrics": {"IMPRESSION": 0, "SAVE": 0}}}


def test_errors_other_than_not_found_are_not_read_as_deleted(
    make_case: Callable[[str], Case], sandbox_state: SandboxState
) -> None:
    from postiz_pipelines.sandbox.discord import discord_channels

    case = make_case("discord")
    remote = case.publish("Kanal weg 🚪")
    discord_channels(sandbox_state).delete(case.account.external_id)
    with pytest.raises(ProviderError) as caught:
        read(case, remote)
    assert caught.value.code == "10003"  # the channel is gone, not the message


def test_a_youtube_video_whose_owner_hid_its_likes_reads_them_as_unknown(
    clock: FixedClock,
) -> None:
    """The one odd answer at the edge: ``statistics`` without ``likeCount``."""
    stats = {"viewCount": "1200", "favoriteCount": "0", "commentCount": "9"}
    body = {"items": [{"id": "abc", "statistics": stats}, {"id": "odd", "statistics": None}]}
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body))
    )
    provider = YouTubeProvider(http, base_url="http://youtube.test", clock=clock)
    creds = AccountCredentials("a", "youtube", "alice", "UC1", Secret("t"))
    hidden, odd, gone = _run(provider.engagement(creds, ["abc", "odd", "zzz"]))
    assert (hidden.likes, hidden.replies, hidden.views) == (None, 9, 1200)
    assert odd.found and shape(odd) == dict.fromkeys(BASE)  # found, nothing readable
    assert gone.found is False
