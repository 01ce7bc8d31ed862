"""TikTokProvider against the sandbox: creator settings before each post and at creation,
file uploads in TikTok's chunks, pulled videos and photos, bounded status polling that goes
on in the next try (and in the next run, after a kill) without submitting again, the
unaudited app's limits, token rotation and every error class."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.core.media.assets import ingest
from postiz_pipelines.core.media.storage import LocalStorage
from postiz_pipelines.core.models import JobStatus, PublishJob
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.publishing.partition_run import claim_partition, publish_partition
from postiz_pipelines.core.publishing.recovery import recover_expired_leases
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthExpired,
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    StillProcessing,
)
from postiz_pipelines.providers.base import (
    AccountCredentials,
    IdempotencyMode,
    MediaFile,
    PostContent,
    PublishResult,
)
from postiz_pipelines.providers.tiktok import TikTokProvider, chunk_plan
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport, create_app
from postiz_pipelines.sandbox.oauth2 import give_refresh_token
from postiz_pipelines.sandbox.tiktok_world import tiktok_world

TOKEN = "act.sandbox-tiktok-alice"
MB = 1024 * 1024
INIT = "POST /v2/post/publish/video/init/"


@pytest.fixture
def account(sandbox_state: SandboxState) -> AccountCredentials:
    user = sandbox_state.provision("tiktok", TOKEN, username="alice")
    return AccountCredentials(
        "acc_tt", "tiktok", "alice", user.id, Secret(TOKEN), refresh_token=Secret("rft.alice")
    )


def make_provider(
    http: httpx.AsyncClient, url: str, clock: FixedClock, **kw: Any
) -> TikTokProvider:
    options: dict[str, Any] = {"poll_interval": 1, "max_polls": 5, **kw}
    return TikTokProvider(
        http,
        base_url=f"{url}/tiktok",
        client_key="ck",
        client_secret=Secret("cs"),
        chunk_size=5 * MB,
        clock=clock,
        **options,
    )


@pytest.fixture
def provider(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, clock: FixedClock
) -> TikTokProvider:
    return make_provider(sandbox_http, sandbox_url, clock)


@pytest.fixture
def clip(tmp_path: Path) -> Callable[..., MediaFile]:
    def make(size: int = 64 * 1024, seconds: float = 12, url: str | None = None) -> MediaFile:
        path = tmp_path / f"clip-{size}.mp4"
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"v" * (size - 12))
        return MediaFile(
            path, "video/mp4", "video", size, 1080, 1920, int(seconds * 1000), public_url=url
        )

    return make


class Progress:
    def __init__(self) -> None:
        self.saved: dict[str, Any] = {}
        self.saves = 0

    async def __call__(self, progress: Any) -> None:
        self.saved.update(progress)
        self.saves += 1


def content(
    text: str, *media: MediaFile, progress: Progress | None = None, **settings: Any
) -> PostContent:
    sink = progress or Progress()
    return PostContent(
        text, media=media, settings=settings, progress=dict(sink.saved), save_progress=sink
    )


def publish(provider: TikTokProvider, account: AccountCredentials, c: PostContent) -> PublishResult:
    return asyncio.run(provider.publish(account, c, idempotency_key="k"))


def failure(
    provider: TikTokProvider, account: AccountCredentials, c: PostContent, kind: type[ProviderError]
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, c)
    assert caught.value.platform == "tiktok" and TOKEN not in repr(caught.value)
    return caught.value


def test_capabilities_and_chunk_rules() -> None:
    caps = TikTokProvider.capabilities
    assert caps.idempotency is IdempotencyMode.STORED_ID and caps.media.requires_media
    assert (caps.text_limit, caps.media.max_items, caps.media.max_video_seconds) == (2200, 35, 600)
    assert chunk_plan(4 * MB, 5 * MB) == (4 * MB, 1)
    assert chunk_plan(11 * MB, 5 * MB) == (5 * MB, 2)  # the last chunk takes the remainder
    assert chunk_plan(200 * MB, 10 * MB) == (10 * MB, 20)
    with pytest.raises(ValueError):
        TikTokProvider(None, chunk_size=MB)


def test_a_small_video_goes_in_one_chunk_and_the_publish_id_is_saved_before_polling(
    provider: TikTokProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    sink = Progress()
    result = publish(provider, account, content("Hello TikTok 👋 #fyp", clip(), progress=sink))
    [post] = sandbox_state.accepted("tiktok")
    assert post.text == "Hello TikTok 👋 #fyp"
    assert (post.extra["privacy_level"], post.extra["chunks"]) == ("SELF_ONLY", 1)
    assert (
        post.extra["disable_comment"]
        and post.extra["disable_duet"]
        and post.extra["disable_stitch"]
    )
    assert sink.saves == 1 and sink.saved["publish_id"] == post.extra["publish_id"]
    assert result.remote_id == post.extra["publish_id"]  # SELF_ONLY posts have no public id
    assert sandbox_state.request_count("tiktok", "POST /v2/post/publish/creator_info/query/") == 1


def test_a_large_video_goes_in_tiktok_chunks(
    provider: TikTokProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    tiktok_world(sandbox_state).audited = True
    account.settings["audited"] = True
    c = content("big", clip(11 * MB), privacy_level="PUBLIC_TO_EVERYONE", allow_comments=True)
    result = publish(provider, account, c)
    [post] = sandbox_state.accepted("tiktok")
    assert (post.extra["chunks"], post.extra["bytes"]) == (2, 11 * MB)
    assert post.extra["disable_comment"] is False
    assert result.remote_id == post.remote_id  # public posts have their post id
    assert result.url == f"https://www.tiktok.com/@alice/video/{post.remote_id}"


def test_pulled_videos_and_photos(
    provider: TikTokProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
    image_file: Callable[..., MediaFile],
) -> None:
    from dataclasses import replace

    url = "https://media.example/v.mp4"
    publish(provider, account, content("pulled", clip(url=url), source="PULL_FROM_URL"))
    photos = [
        replace(
            image_file(f"{i}.png"),
            mime_type="image/jpeg",
            public_url=f"https://media.example/{i}.jpg",
        )
        for i in range(2)
    ]
    publish(provider, account, content("a description", *photos, photo_title="Two photos"))
    video, album = sandbox_state.accepted("tiktok")
    assert (video.extra["source"], video.extra["urls"]) == ("PULL_FROM_URL", [url])
    assert album.extra["media_type"] == "PHOTO" and album.text == "Two photos"
    assert album.extra["description"] == "a description" and len(album.extra["urls"]) == 2
    tiktok_world(sandbox_state).verified_url_prefixes = ("https://verified.example/",)
    error = failure(
        provider, account, content("x", clip(url=url), source="PULL_FROM_URL"), MediaRejected
    )
    assert error.code == "url_ownership_unverified"


def test_polling_is_bounded_and_the_next_try_polls_the_saved_id_without_submitting(
    provider: TikTokProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    tiktok_world(sandbox_state).processing_polls = 8
    sink = Progress()
    error = failure(provider, account, content("slow", clip(), progress=sink), StillProcessing)
    assert isinstance(error, StillProcessing) and error.retry_after == 120.0
    assert sandbox_state.accepted("tiktok") == []
    publish(provider, account, content("slow", clip(), progress=sink))
    assert len(sandbox_state.accepted("tiktok")) == 1
    assert sandbox_state.request_count("tiktok", INIT) == 1


def test_a_post_processing_past_the_bound_fails_saying_it_may_be_live(
    provider: TikTokProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
    clock: FixedClock,
) -> None:
    tiktok_world(sandbox_state).processing_polls = 100
    sink = Progress()
    failure(provider, account, content("slow", clip(), progress=sink), StillProcessing)
    clock.advance(25 * 3600)
    error = failure(provider, account, content("slow", clip(), progress=sink), ProviderError)
    assert not error.retryable and "may be live" in error.message


def test_a_failed_processing_is_mapped(
    provider: TikTokProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    tiktok_world(sandbox_state).fail_next = "frame_rate_check_failed"
    sink = Progress()
    error = failure(provider, account, content("x", clip(), progress=sink), MediaRejected)
    assert error.code == "frame_rate_check_failed"
    # nothing was published: the id is forgotten, so a retry after a fix submits anew
    assert sink.saved["publish_id"] is None
    publish(provider, account, content("x", clip(), progress=sink))
    assert sandbox_state.request_count("tiktok", INIT) == 2
    tiktok_world(sandbox_state).fail_next = "spam_risk_text"
    assert (
        failure(provider, account, content("x", clip()), ContentRejected).code == "spam_risk_text"
    )


# -- creator settings and the unaudited app -------------------------------------------------


def test_settings_the_creator_cannot_use_are_refused_at_creation_and_before_posting(
    provider: TikTokProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    creator = tiktok_world(sandbox_state).creator(account.external_id)
    creator.comment_disabled, creator.max_video_post_duration_sec = True, 60
    account.settings["creator_info"] = asyncio.run(provider.creator_info(account))
    c = content("x", clip(seconds=90), allow_comments=True)
    problems = {p.field: p.message for p in provider.validate(c, account)}
    assert problems["tiktok.allow_comments"] == "the creator turned comments off in TikTok"
    assert problems["tiktok.media[0]"] == "video is 90 s, this creator's limit 60 s"
    del account.settings["creator_info"]  # saved before the creator changed it: checked live
    error = failure(provider, account, content("x", clip(), allow_comments=True), ContentRejected)
    assert error.code == "creator_settings" and "comments off" in error.message
    assert sandbox_state.request_count("tiktok", INIT) == 0


def test_an_unaudited_app_posts_self_only(
    provider: TikTokProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    public = content("x", clip(), privacy_level="PUBLIC_TO_EVERYONE")
    [problem] = provider.validate(public, account)
    assert problem.field == "tiktok.privacy_level" and "not audited" in problem.message
    error = failure(provider, account, public, ContentRejected)  # the platform's own refusal
    assert error.code == "unaudited_client_can_only_post_to_private_accounts"
    assert "make the TikTok account private" in error.message
    tiktok_world(sandbox_state).creator(account.external_id).private_account = False
    assert failure(provider, account, content("x", clip()), ContentRejected).status == 403


def test_daily_limits_wait(
    provider: TikTokProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    world = tiktok_world(sandbox_state)
    world.posts_per_day, world.posting_users_cap = 1, 1
    publish(provider, account, content("one", clip()))
    error = failure(provider, account, content("two", clip()), RateLimited)
    assert (error.code, error.retry_after) == ("spam_risk_too_many_posts", 86400.0)  # type: ignore[attr-defined]
    bob = sandbox_state.provision("tiktok", "act.bob")
    other = AccountCredentials("acc_b", "tiktok", "bob", bob.id, Secret("act.bob"))
    assert (
        failure(provider, other, content("bob", clip()), RateLimited).code
        == "reached_active_user_cap"
    )


def test_the_init_rate_limit(
    provider: TikTokProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    sandbox_state.override_rate_limit("tiktok", "init", limit=1, per_seconds=60)
    publish(provider, account, content("one", clip()))
    error = failure(provider, account, content("two", clip()), RateLimited)
    assert (error.status, error.code) == (429, "rate_limit_exceeded")


# -- tokens ---------------------------------------------------------------------------------


def test_refresh_rotates_the_refresh_token(
    provider: TikTokProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    sandbox_state.expire_token("tiktok", TOKEN)
    assert (
        failure(provider, account, content("x", clip()), AuthExpired).code == "access_token_invalid"
    )
    give_refresh_token(sandbox_state, "tiktok", account.external_id, "rft.alice")
    tokens = asyncio.run(provider.refresh(account))
    assert tokens.refresh_token is not None and tokens.refresh_token.reveal() != "rft.alice"
    with pytest.raises(AuthRevoked) as caught:  # the old one was retired
        asyncio.run(provider.refresh(account))
    assert caught.value.code == "invalid_grant"
    account.access_token, account.refresh_token = tokens.access_token, tokens.refresh_token
    publish(provider, account, content("after", clip()))
    assert sandbox_state.accepted("tiktok")[0].account_id == account.external_id


def test_an_accepted_init_whose_answer_was_lost_is_an_unknown_outcome(
    provider: TikTokProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clip: Callable[..., MediaFile],
) -> None:
    sandbox_state.faults.set("tiktok", FaultSpec(drops=1, endpoints=frozenset({INIT})))
    sink = Progress()
    failure(provider, account, content("x", clip(), progress=sink), OutcomeUnknown)
    assert sink.saved == {}  # no publish id to go on with: the engine must not retry blindly


# -- across runs, through the engine --------------------------------------------------------


class KillOnStatus(httpx.AsyncBaseTransport):
    """The process dies (KeyboardInterrupt) on its first status poll."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/status/fetch/"):
            raise KeyboardInterrupt
        return await self.inner.handle_async_request(request)


def tiktok_job(app, make, clock: FixedClock, video: bytes, token: str = TOKEN) -> tuple[Any, str]:  # type: ignore[no-untyped-def]
    ws = make.workspace()
    acc = make.account(ws, platform="tiktok", token=token, base_url="http://sandbox.test/tiktok")
    storage = LocalStorage(app.media_root)
    with app.db.session() as s:
        staged = storage.stage()
        staged.write(video)
        asset, _ = ingest(s, storage, staged, workspace_id=ws.id, filename="c.mp4", now=clock.now())
        from postiz_pipelines.core.models import SocialAccount, Workspace

        create_post(
            s,
            workspace=s.get(Workspace, ws.id),
            text="Über cool 🎬",
            account_ids=[acc.id],
            scheduled_at=None,
            now=clock.now(),
            media_ids=[asset.id],
            media_root=app.media_root,
        )
        assert s.get(SocialAccount, acc.id) is not None
    return ws, acc.id


def job_row(app) -> PublishJob:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        [job] = s.scalars(select(PublishJob)).all()
        return job


def test_a_run_killed_while_polling_is_resumed_by_the_next_run_without_a_second_post(
    app, make, clock, tiny_video
) -> None:  # type: ignore[no-untyped-def]
    state = SandboxState(clock=clock, seed=3)
    state.provision("tiktok", TOKEN)
    sandbox = create_app(state)
    ws, _ = tiktok_job(app, make, clock, tiny_video(seconds=4))
    ids = claim_partition(
        app, workspace_slug=ws.slug, platform="tiktok", owner="run-1", clock=clock
    )
    with pytest.raises(KeyboardInterrupt):
        publish_partition(
            app,
            ids,
            owner="run-1",
            clock=clock,
            transport=KillOnStatus(SandboxTransport(sandbox, timeout=1)),
        )
    job = job_row(app)
    assert job.status == JobStatus.RUNNING and job.progress["publish_id"].startswith("v_pub_file~")
    clock.advance(app.settings.lease_seconds + app.settings.lookahead_seconds + 1)
    assert recover_expired_leases(app.db, now=clock.now()).as_dict() == {
        "requeued": 1,
        "failed_uncertain": 0,
    }
    ids = claim_partition(
        app, workspace_slug=ws.slug, platform="tiktok", owner="run-2", clock=clock
    )
    publish_partition(
        app, ids, owner="run-2", clock=clock, transport=SandboxTransport(sandbox, timeout=1)
    )
    job = job_row(app)
    assert job.status == JobStatus.COMPLETED and job.remote_id == job.progress["publish_id"]
    assert state.request_count("tiktok", INIT) == 1
    [post] = state.accepted("tiktok")
    assert post.text == "Über cool 🎬"


def test_a_lost_init_answer_is_not_retried_blindly(app, make, clock, tiny_video) -> None:  # type: ignore[no-untyped-def]
    state = SandboxState(clock=clock, seed=3)
    state.provision("tiktok", TOKEN)
    state.faults.set("tiktok", FaultSpec(drops=1, endpoints=frozenset({INIT})))
    ws, _ = tiktok_job(app, make, clock, tiny_video(seconds=4))
    ids = claim_partition(
        app, workspace_slug=ws.slug, platform="tiktok", owner="run-1", clock=clock
    )
    publish_partition(
        app,
        ids,
        owner="run-1",
        clock=clock,
        transport=SandboxTransport(create_app(state), timeout=1),
    )
    job = job_row(app)
    assert (job.status, job.last_error_class) == (JobStatus.FAILED, "uncertain_outcome")
    assert state.request_count("tiktok", INIT) == 1
