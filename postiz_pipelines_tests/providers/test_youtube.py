"""YouTubeProvider against the sandbox: the resumable upload (chunks, a dropped chunk, a try
that died and the next that resumes), thumbnails, metadata rules at creation, quota and
upload caps, token refresh, every error class, and the lookup by the engine's tag."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthExpired,
    AuthRevoked,
    ContentRejected,
    OAuthClientMisconfigured,
    PartiallyPublished,
    ProviderError,
    RateLimited,
    TransientError,
)
from postiz_pipelines.providers.base import (
    AccountCredentials,
    IdempotencyMode,
    MediaFile,
    PostContent,
    PublishResult,
)
from postiz_pipelines.providers.youtube import YouTubeProvider, marker_tag
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport
from postiz_pipelines.sandbox.oauth2 import give_refresh_token, revoke_refresh_token
from postiz_pipelines.sandbox.youtube_world import youtube_world

TOKEN = "ya29.sandbox-youtube-alice"
KIB = 1024
PUT = "PUT /upload/youtube/v3/videos"
INIT = "POST /upload/youtube/v3/videos"


@pytest.fixture
def account(sandbox_state: SandboxState) -> AccountCredentials:
    channel = sandbox_state.provision("youtube", TOKEN, username="alice")
    return AccountCredentials(
        account_id="acc_yt",
        platform="youtube",
        handle="alice",
        external_id=channel.id,
        access_token=Secret(TOKEN),
        refresh_token=Secret("1//sandbox-refresh-alice"),
    )


def make_provider(
    http: httpx.AsyncClient, url: str, clock: FixedClock, **kw: Any
) -> YouTubeProvider:
    return YouTubeProvider(
        http,
        base_url=f"{url}/youtube",
        client_id="app.apps.googleusercontent.com",
        client_secret=Secret("google-secret"),
        chunk_size=256 * KIB,
        clock=clock,
        **kw,
    )


@pytest.fixture
def provider(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, clock: FixedClock
) -> YouTubeProvider:
    return make_provider(sandbox_http, sandbox_url, clock)


@pytest.fixture
def clip(tmp_path: Path) -> Callable[..., MediaFile]:
    """``clip(size)``: an MP4-looking file of ``size`` bytes with varied content."""

    def make(
        size: int = 700 * KIB, width: int = 1080, height: int = 1920, seconds: float = 30
    ) -> MediaFile:
        path = tmp_path / f"clip-{size}.mp4"
        block = hashlib.sha256(str(size).encode()).digest()
        path.write_bytes((block * (size // 32 + 1))[:size])
        return MediaFile(path, "video/mp4", "video", size, width, height, int(seconds * 1000))

    return make


class Progress:
    """The engine's side of ``save_progress``: what a try saved, for the next try."""

    def __init__(self) -> None:
        self.saved: dict[str, Any] = {}

    async def __call__(self, progress: Any) -> None:
        self.saved.update(progress)


def content(
    text: str, *media: MediaFile, progress: Progress | None = None, **settings: Any
) -> PostContent:
    sink = progress or Progress()
    return PostContent(
        text, media=media, settings=settings, progress=dict(sink.saved), save_progress=sink
    )


def publish(
    provider: YouTubeProvider, account: AccountCredentials, c: PostContent, key: str = "k1"
) -> PublishResult:
    return asyncio.run(provider.publish(account, c, idempotency_key=key))


def failure(
    provider: YouTubeProvider,
    account: AccountCredentials,
    c: PostContent,
    kind: type[ProviderError],
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, c)
    assert caught.value.platform == "youtube"
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    return caught.value


def session_of(state: SandboxState):  # type: ignore[no-untyped-def]
    [session] = youtube_world(state).sessions.values()
    return session


# -- publishing ------------------------------------------------------------------------


def test_capabilities_declare_youtubes_rules() -> None:
    caps = YouTubeProvider.capabilities
    assert (caps.text_limit, caps.text_unit) == (5000, "UTF-8 bytes")
    assert caps.count_text("é👍") == 6
    assert caps.media.requires_media and caps.media.max_videos == 1
    assert caps.idempotency is IdempotencyMode.LOOKUP and caps.supports_refresh
    assert YouTubeProvider(None).oauth_base_url == "https://oauth2.googleapis.com"
    with pytest.raises(ValueError, match="multiple of 262144"):
        YouTubeProvider(None, chunk_size=300_000)


def test_a_video_goes_up_in_256_kib_chunks_with_its_metadata_and_thumbnail(
    provider: YouTubeProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
    image_file: Callable[..., MediaFile],
) -> None:
    video = clip(700 * KIB)
    sink = Progress()
    c = content(
        "Behind the scenes — café ☕\nsecond line",
        video,
        image_file("thumb.png", 128, 72),
        progress=sink,
        tags="launch, behind the scenes",
        category_id="28",
        made_for_kids=False,
    )
    result = publish(provider, account, c)
    [post] = sandbox_state.accepted("youtube")
    assert post.extra["title"] == "Behind the scenes — café ☕"  # the text's first line
    assert post.text.startswith("Behind the scenes")
    assert post.extra["tags"] == ["launch", "behind the scenes", marker_tag("k1")]
    assert (post.extra["categoryId"], post.extra["privacyStatus"]) == ("28", "private")
    assert post.extra["chunks"] == 3  # 256 + 256 + 188 KiB
    assert post.media[0].sha256 == hashlib.sha256(video.path.read_bytes()).hexdigest()
    assert youtube_world(sandbox_state).thumbnails[post.remote_id] > 0
    assert result.remote_id == post.remote_id
    assert result.url == f"https://www.youtube.com/watch?v={post.remote_id}"
    assert sink.saved["upload_url"].startswith("http://sandbox.test/youtube/upload/")
    assert provider.quota.spent(provider.clock.now()) == 1650


def test_a_dropped_chunk_is_resumed_from_the_confirmed_offset_never_resent(
    provider: YouTubeProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    video = clip(900 * KIB)
    sandbox_state.faults.set("youtube", FaultSpec(drops=1, endpoints=frozenset({PUT})))
    publish(provider, account, content("dropped", video, title="Dropped"))
    session = session_of(sandbox_state)
    assert session.resent_bytes == 0
    assert sandbox_state.request_count("youtube", PUT) == 5  # 4 chunks + 1 status query
    [post] = sandbox_state.accepted("youtube")
    assert post.media[0].size_bytes == video.size_bytes
    assert post.media[0].sha256 == hashlib.sha256(video.path.read_bytes()).hexdigest()


class KillAfter(httpx.AsyncBaseTransport):
    """Pass ``n`` chunk PUTs, then the process dies (KeyboardInterrupt, as SIGTERM does)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, n: int) -> None:
        self.inner = inner
        self.left = n

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            if self.left == 0:
                raise KeyboardInterrupt
            self.left -= 1
        return await self.inner.handle_async_request(request)


def test_a_try_that_died_mid_upload_is_resumed_by_the_next_try(
    sandbox_app: Any,
    sandbox_url: str,
    clock: FixedClock,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    video = clip(1100 * KIB)  # five chunks
    sink = Progress()
    dying = httpx.AsyncClient(transport=KillAfter(SandboxTransport(sandbox_app, timeout=1), 2))
    with pytest.raises(KeyboardInterrupt):
        publish(
            make_provider(dying, sandbox_url, clock), account, content("v", video, progress=sink)
        )
    assert len(session_of(sandbox_state).received) == 512 * KIB
    assert sandbox_state.accepted("youtube") == []

    healthy = httpx.AsyncClient(transport=SandboxTransport(sandbox_app, timeout=1))
    result = publish(
        make_provider(healthy, sandbox_url, clock), account, content("v", video, progress=sink)
    )
    session = session_of(sandbox_state)
    assert sandbox_state.request_count("youtube", INIT) == 1  # never initiated again
    assert session.resent_bytes == 0 and session.chunks == 5
    assert result.remote_id == sandbox_state.accepted("youtube")[0].remote_id


def test_a_finished_upload_whose_answer_was_lost_is_found_by_the_next_try(
    provider: YouTubeProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    """Accept-then-drop on every PUT: the video is made, no answer arrives; the try gives up
    (transient) and the next one, resuming the saved session, learns the video's id."""
    video = clip(200 * KIB)  # one chunk: its PUT makes the video
    sink = Progress()
    sandbox_state.faults.set("youtube", FaultSpec(drops=-1, endpoints=frozenset({PUT})))
    failure(provider, account, content("lost", video, progress=sink), TransientError)
    assert len(sandbox_state.accepted("youtube")) == 1
    sandbox_state.faults.reset("youtube")
    result = publish(provider, account, content("lost", video, progress=sink))
    [post] = sandbox_state.accepted("youtube")
    assert result.remote_id == post.remote_id
    assert sandbox_state.request_count("youtube", INIT) == 1


def test_an_expired_session_starts_a_new_upload(
    provider: YouTubeProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
    clock: FixedClock,
) -> None:
    sink = Progress()
    sink.saved["upload_url"] = "http://sandbox.test/youtube/upload/youtube/v3/videos?upload_id=gone"
    publish(provider, account, content("fresh", clip(), progress=sink))
    assert sandbox_state.request_count("youtube", INIT) == 1
    assert len(sandbox_state.accepted("youtube")) == 1


def test_scheduled_short_for_kids(
    provider: YouTubeProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    c = content(
        "A short one",
        clip(seconds=45),
        shorts=True,
        made_for_kids=True,
        publish_at="2026-12-24T18:00:00+01:00",
    )
    assert provider.validate(c) == []
    result = publish(provider, account, c)
    [post] = sandbox_state.accepted("youtube")
    assert post.text.endswith("#Shorts")
    assert post.extra["publishAt"] == "2026-12-24T17:00:00Z"
    assert post.extra["madeForKids"] is True
    assert result.url == f"https://www.youtube.com/shorts/{post.remote_id}"


# -- limits at creation ------------------------------------------------------------------


def fields(problems: list[Any]) -> dict[str, str]:
    return {p.field: p.message for p in problems}


def test_title_description_tags_and_category_are_checked_at_creation(
    provider: YouTubeProvider, clip: Callable[..., MediaFile], image_file: Callable[..., MediaFile]
) -> None:
    v = clip()
    assert "youtube.title" in fields(provider.validate(content("", v)))
    long = fields(provider.validate(content("x", v, title="é" * 101)))
    assert long["youtube.title"] == "title is 101 characters, limit 100"
    assert "< and >" in fields(provider.validate(content("x", v, title="a <b>")))["youtube.title"]
    assert "< and >" in fields(provider.validate(content("t\n<b>", v, title="ok")))["youtube.text"]
    desc = fields(provider.validate(content("ü" * 2501, v, title="t")))
    assert desc["youtube.text"] == "text is 5002 UTF-8 bytes, limit 5000"
    tags = fields(provider.validate(content("t", v, tags=["a" * 490])))
    assert "limit 500" in tags["youtube.tags"]
    assert "youtube.category_id" in fields(provider.validate(content("t", v, category_id="99")))
    assert "youtube.media" in fields(provider.validate(content("t", image_file())))
    assert "youtube.media" in fields(provider.validate(content("t")))


def test_unaudited_projects_may_only_upload_private(
    provider: YouTubeProvider, account: AccountCredentials, clip: Callable[..., MediaFile]
) -> None:
    public = content("t", clip(), privacy_status="public")
    [problem] = provider.validate(public, account)
    assert problem.field == "youtube.privacy_status" and "not audited" in problem.message
    account.settings["audited"] = True
    assert provider.validate(public, account) == []
    assert "youtube.privacy_status" in fields(
        provider.validate(content("t", clip(), privacy_status="secret"))
    )


def test_publish_time_and_shorts_rules(
    provider: YouTubeProvider, clip: Callable[..., MediaFile]
) -> None:
    past = fields(provider.validate(content("t", clip(), publish_at="2026-11-28T11:00:00Z")))
    assert past["youtube.publish_at"] == "must be in the future"
    naive = fields(provider.validate(content("t", clip(), publish_at="2026-12-01T10:00")))
    assert "offset" in naive["youtube.publish_at"]
    wide = fields(
        provider.validate(content("t", clip(width=1920, height=1080, seconds=200), shorts=True))
    )
    assert "vertical or square" in wide["youtube.media[0]"] or "180" in wide["youtube.media[0]"]
    assert (
        len(
            [
                p
                for p in provider.validate(
                    content("t", clip(width=1920, height=1080, seconds=200), shorts=True)
                )
                if p.field == "youtube.media[0]"
            ]
        )
        == 2
    )


# -- quota and caps ------------------------------------------------------------------------


def test_an_upload_that_would_pass_the_daily_quota_waits_without_calling(
    sandbox_http: httpx.AsyncClient,
    sandbox_url: str,
    clock: FixedClock,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    provider = make_provider(sandbox_http, sandbox_url, clock, daily_quota=3000)
    publish(provider, account, content("one", clip()))
    error = failure(provider, account, content("two", clip()), RateLimited)
    assert isinstance(error, RateLimited) and error.scope == "platform"
    assert "1400 of the project's 3000 remain" in error.message
    # 12:00 UTC on 28 Nov is 04:00 in Los Angeles: 20 hours to the reset
    assert error.retry_after == pytest.approx(20 * 3600)
    assert sandbox_state.request_count("youtube", INIT) == 1


def test_the_platforms_quota_exceeded_defers_every_account(
    provider: YouTubeProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    youtube_world(sandbox_state).daily_units = 1000
    error = failure(provider, account, content("x", clip()), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.code, error.status, error.scope) == ("quotaExceeded", 403, "platform")
    assert error.retry_after == pytest.approx(20 * 3600)
    assert provider.quota.spent(provider.clock.now()) == provider.quota.daily_units


def test_the_channels_upload_cap_waits_a_day(
    provider: YouTubeProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    youtube_world(sandbox_state).uploads_per_day = 1
    publish(provider, account, content("one", clip()))
    error = failure(provider, account, content("two", clip()), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.code, error.scope, error.retry_after) == (
        "uploadLimitExceeded",
        "account",
        86400.0,
    )


# -- errors --------------------------------------------------------------------------------


def test_an_expired_token_is_auth_expired_and_refresh_brings_a_working_one(
    provider: YouTubeProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    sandbox_state.expire_token("youtube", TOKEN)
    error = failure(provider, account, content("x", clip()), AuthExpired)
    assert error.status == 401
    give_refresh_token(sandbox_state, "youtube", account.external_id, "1//sandbox-refresh-alice")
    tokens = asyncio.run(provider.refresh(account))
    assert tokens.refresh_token is None  # Google keeps the refresh token
    assert tokens.expires_at is not None
    assert (tokens.expires_at - provider.clock.now()).total_seconds() == 3600
    account.access_token = tokens.access_token
    publish(provider, account, content("after refresh", clip()))
    assert sandbox_state.accepted("youtube")[0].account_id == account.external_id


def test_a_revoked_refresh_token_means_reconnect(
    provider: YouTubeProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    give_refresh_token(sandbox_state, "youtube", account.external_id, "1//sandbox-refresh-alice")
    revoke_refresh_token(sandbox_state, "youtube", "1//sandbox-refresh-alice")
    with pytest.raises(AuthRevoked) as caught:
        asyncio.run(provider.refresh(account))
    assert caught.value.code == "invalid_grant" and "Testing" in caught.value.message
    no_client = YouTubeProvider(provider.http, base_url=provider.base_url)
    with pytest.raises(OAuthClientMisconfigured, match="POSTIZ_YOUTUBE_CLIENT_ID"):
        asyncio.run(no_client.refresh(account))


def test_forbidden_uploads_mean_reconnect_and_bad_metadata_is_content_rejected(
    provider: YouTubeProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    youtube_world(sandbox_state).forbidden.add(account.external_id)
    error = failure(provider, account, content("x", clip()), AuthRevoked)
    assert (error.status, error.code) == (403, "forbidden")
    youtube_world(sandbox_state).forbidden.clear()
    # skipping validation, the platform's own check refuses it
    error = failure(provider, account, content("x", clip(), title="x" * 120), ContentRejected)
    assert error.code == "invalidTitle"


def test_a_refused_thumbnail_leaves_the_video_out_and_says_so(
    provider: YouTubeProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
    image_file: Callable[..., MediaFile],
) -> None:
    youtube_world(sandbox_state).thumbnails_allowed = False
    error = failure(provider, account, content("x", clip(), image_file()), PartiallyPublished)
    assert isinstance(error, PartiallyPublished)
    assert error.remote_id == sandbox_state.accepted("youtube")[0].remote_id


def test_server_errors_are_transient(
    provider: YouTubeProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    sandbox_state.faults.set(
        "youtube", FaultSpec(error_rates={503: 1.0}, endpoints=frozenset({INIT}))
    )
    error = failure(provider, account, content("x", clip()), TransientError)
    assert error.status == 503


# -- lookup --------------------------------------------------------------------------------


def test_the_lookup_finds_the_video_by_the_engines_tag(
    provider: YouTubeProvider,
    account: AccountCredentials,
    clip: Callable[..., MediaFile],
    clock: FixedClock,
) -> None:
    publish(provider, account, content("mine", clip()), key="job-1")
    since = clock.now()
    found = asyncio.run(
        provider.find_recent(account, since=since, text="mine", idempotency_key="job-1")
    )
    assert found is not None and found.text == "mine"
    other = asyncio.run(
        provider.find_recent(account, since=since, text="mine", idempotency_key="job-2")
    )
    assert other is None
