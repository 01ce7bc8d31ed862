"""InstagramProvider against the sandbox: images, carousels, reels and stories through
containers, token refresh, every error class, the daily limit, looking back after an
uncertain outcome, validation, and odd answers at the edge (MockTransport)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthExpired,
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    OutcomeUnknown,
    ProviderError,
    QuotaExhausted,
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
from postiz_pipelines.providers.instagram import InstagramProvider
from postiz_pipelines.sandbox import SandboxState

TOKEN = "IGAA-user-token-1234567890"
PUBLISH = "POST /{version}/{node_id}/media_publish"
CDN = "https://cdn.example/media"


@pytest.fixture
def jpeg(tmp_path: Path) -> Callable[..., MediaFile]:
    """``jpeg(name, width, height)``: a real JPEG on disk, served at a public URL."""
    from PIL import Image

    def make(
        name: str = "photo.jpg", width: int = 1080, height: int = 1080, alt: str = ""
    ) -> MediaFile:
        path = tmp_path / name
        buf = io.BytesIO()
        Image.new("RGB", (width, height), (200, 120, 20)).save(buf, "JPEG")
        path.write_bytes(buf.getvalue())
        return MediaFile(
            path=path,
            mime_type="image/jpeg",
            kind="image",
            size_bytes=path.stat().st_size,
            width=width,
            height=height,
            alt_text=alt,
            public_url=f"{CDN}/{name}",
        )

    return make


@pytest.fixture
def clip(video_file: Callable[..., MediaFile]) -> Callable[..., MediaFile]:
    def make(name: str = "clip.mp4") -> MediaFile:
        return replace(video_file(name, 1080, 1920), public_url=f"{CDN}/{name}")

    return make


@pytest.fixture
def account(sandbox_state: SandboxState) -> AccountCredentials:
    user = sandbox_state.provision("instagram", TOKEN, username="brand")
    return AccountCredentials(
        account_id="acc_ig",
        platform="instagram",
        handle="brand",
        external_id=user.id,
        access_token=Secret(TOKEN),
        settings={"login": "instagram"},
    )


@pytest.fixture
def provider(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, clock: FixedClock
) -> InstagramProvider:
    return InstagramProvider(
        sandbox_http, base_url=f"{sandbox_url}/instagram", poll_interval=0, clock=clock
    )


def publish(
    provider: InstagramProvider, account: AccountCredentials, content: PostContent
) -> PublishResult:
    return asyncio.run(provider.publish(account, content, idempotency_key="k"))


def failure(
    provider: InstagramProvider,
    account: AccountCredentials,
    content: PostContent,
    kind: type[ProviderError],
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, content)
    error = caught.value
    assert error.platform == "instagram"
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    return error


# -- publishing ------------------------------------------------------------------------


def test_capabilities_declare_instagrams_rules() -> None:
    caps = InstagramProvider.capabilities
    assert (caps.text_limit, caps.media.max_items, caps.media.image_types) == (
        2200,
        10,
        frozenset({"image/jpeg"}),
    )
    assert caps.media.requires_media and caps.media.requires_public_url
    assert caps.supports_refresh and not caps.supports_threads
    assert caps.idempotency is IdempotencyMode.LOOKUP
    assert (caps.rate_limit.requests, caps.rate_limit.per_seconds) == (100, 86_400)


def test_an_image_post_with_caption_and_alt_text(
    provider: InstagramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    jpeg: Callable[..., MediaFile],
) -> None:
    result = publish(provider, account, PostContent("Hello #insta", media=(jpeg(alt="a dog"),)))
    [post] = sandbox_state.accepted("instagram")
    assert (result.remote_id, post.text, post.extra["media_type"]) == (
        post.remote_id,
        "Hello #insta",
        "IMAGE",
    )
    assert [m.filename for m in post.media] == [f"{CDN}/photo.jpg"]
    assert result.url is not None and result.url.startswith("http://sandbox.test/instagram/p/")


def test_a_carousel_waits_for_every_child(
    provider: InstagramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    jpeg: Callable[..., MediaFile],
    clip: Callable[..., MediaFile],
) -> None:
    media = (jpeg("a.jpg"), clip(), jpeg("b.jpg"))
    publish(provider, account, PostContent("three", media=media))
    [post] = sandbox_state.accepted("instagram")
    assert post.extra["media_type"] == "CAROUSEL"
    assert [m.filename for m in post.media] == [f"{CDN}/a.jpg", f"{CDN}/clip.mp4", f"{CDN}/b.jpg"]
    # three children and the parent; the video child is read three times
    assert sandbox_state.request_count("instagram", "POST /{version}/{node_id}/media") == 4


def test_a_single_video_is_a_reel_and_a_story_has_no_caption(
    provider: InstagramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    jpeg: Callable[..., MediaFile],
    clip: Callable[..., MediaFile],
) -> None:
    publish(provider, account, PostContent("a reel", media=(clip(),)))
    publish(
        provider, account, PostContent("ignored", media=(jpeg(),), settings={"post_type": "story"})
    )
    reel, story = sandbox_state.accepted("instagram")
    assert (reel.extra["media_type"], reel.text) == ("REELS", "a reel")
    assert (story.extra["media_type"], story.text) == ("STORIES", "")


def test_media_without_a_public_url_is_refused_before_any_request(
    provider: InstagramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    jpeg: Callable[..., MediaFile],
) -> None:
    private = replace(jpeg(), public_url=None)
    error = failure(
        provider, account, PostContent("x", media=(jpeg("ok.jpg"), private)), MediaRejected
    )
    assert "public URL" in error.message
    failure(provider, account, PostContent("no media"), MediaRejected)
    threaded = PostContent("x", media=(jpeg(),), thread=("a reply",))
    failure(provider, account, threaded, ContentRejected)
    assert sandbox_state.request_counts("instagram") == {}


def test_the_publishing_quota_is_read(
    provider: InstagramProvider, account: AccountCredentials, jpeg: Callable[..., MediaFile]
) -> None:
    publish(provider, account, PostContent("one", media=(jpeg(),)))
    assert asyncio.run(provider.publishing_quota(account)) == (1, 100)


# -- tokens ----------------------------------------------------------------------------


def test_refresh_gives_a_new_60_day_token_that_publishes(
    provider: InstagramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
    jpeg: Callable[..., MediaFile],
) -> None:
    tokens = asyncio.run(provider.refresh(account))
    assert tokens.access_token != TOKEN and tokens.refresh_token is None
    assert tokens.expires_at == clock.now() + timedelta(seconds=5_183_944)
    assert TOKEN not in repr(tokens) and tokens.access_token not in repr(tokens)
    renewed = replace(account, access_token=tokens.access_token)
    publish(provider, renewed, PostContent("with the new token", media=(jpeg(),)))
    assert sandbox_state.accepted("instagram")[0].account_id == account.external_id


def test_an_expired_token_is_auth_expired_and_cannot_be_refreshed(
    provider: InstagramProvider,
    account: AccountCredentials,
    clock: FixedClock,
    jpeg: Callable[..., MediaFile],
) -> None:
    tokens = asyncio.run(provider.refresh(account))
    renewed = replace(account, access_token=tokens.access_token)
    clock.advance(5_183_944)
    error = failure(provider, renewed, PostContent("late", media=(jpeg(),)), AuthExpired)
    assert (error.code, error.retryable) == ("190/463", True)
    with pytest.raises(AuthRevoked) as caught:  # Meta refreshes only unexpired tokens
        asyncio.run(provider.refresh(renewed))
    assert caught.value.code == "190/463"


def test_a_facebook_login_cannot_refresh_and_uses_the_facebook_host() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        error = {"message": "Session has expired", "code": 190, "error_subcode": 463}
        return httpx.Response(400, json={"error": error})

    provider = InstagramProvider(
        httpx.AsyncClient(transport=httpx.MockTransport(answer)), poll_interval=0
    )
    account = replace(edge_account(), settings={"login": "facebook"})
    media = MediaFile(Path("a.jpg"), "image/jpeg", "image", 10, public_url=f"{CDN}/a.jpg")
    with pytest.raises(AuthRevoked):
        asyncio.run(
            provider.publish(account, PostContent("x", media=(media,)), idempotency_key="k")
        )
    # the first call reads the publishing limit, on the Facebook host
    assert str(seen[0].url).startswith(
        "https://graph.facebook.com/v24.0/178/content_publishing_limit?"
    )
    with pytest.raises(AuthRevoked):
        asyncio.run(provider.refresh(account))
    assert len(seen) == 1


# -- errors ----------------------------------------------------------------------------


def test_a_revoked_token_is_auth_revoked(
    provider: InstagramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    jpeg: Callable[..., MediaFile],
) -> None:
    sandbox_state.revoke_token("instagram", TOKEN)
    error = failure(provider, account, PostContent("x", media=(jpeg(),)), AuthRevoked)
    assert (error.status, error.code) == (400, "190/460")


def test_a_caption_over_the_limit_is_content_rejected(
    provider: InstagramProvider, account: AccountCredentials, jpeg: Callable[..., MediaFile]
) -> None:
    error = failure(provider, account, PostContent("x" * 2201, media=(jpeg(),)), ContentRejected)
    assert error.code == "100/2207010"


def test_media_instagram_refuses_is_media_rejected(
    provider: InstagramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    jpeg: Callable[..., MediaFile],
    clip: Callable[..., MediaFile],
) -> None:
    png = replace(jpeg(), public_url=f"{CDN}/a.png")
    assert (
        failure(provider, account, PostContent("x", media=(png,)), MediaRejected).code
        == "36001/2207005"
    )
    gone = replace(jpeg(), public_url="https://cdn.invalid/a.jpg")
    assert (
        failure(provider, account, PostContent("x", media=(gone,)), MediaRejected).code
        == "9004/2207052"
    )
    webm = clip("clip.webm")
    error = failure(provider, account, PostContent("x", media=(webm,)), MediaRejected)
    assert (error.code, error.status) == ("2207026", 200)  # found while polling the container
    assert sandbox_state.accepted("instagram") == []


def test_a_video_that_never_finishes_is_transient(
    sandbox_http: httpx.AsyncClient,
    sandbox_url: str,
    account: AccountCredentials,
    clip: Callable[..., MediaFile],
) -> None:
    impatient = InstagramProvider(
        sandbox_http, base_url=f"{sandbox_url}/instagram", poll_interval=0, max_polls=2
    )
    error = failure(impatient, account, PostContent("x", media=(clip(),)), TransientError)
    assert "still processing" in error.message


def test_the_daily_limit_waits_until_midnight(
    provider: InstagramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
    jpeg: Callable[..., MediaFile],
) -> None:
    sandbox_state.override_rate_limit("instagram", "publish", limit=1, per_seconds=86_400)
    publish(provider, account, PostContent("first", media=(jpeg(),)))
    clock.advance(2 * 3600)
    containers = sandbox_state.request_count("instagram", "POST /{version}/{node_id}/media")
    # the limit is read first: nothing is sent, and the wait is until the window frees
    error = failure(provider, account, PostContent("second", media=(jpeg(),)), QuotaExhausted)
    assert isinstance(error, QuotaExhausted)
    assert (error.code, error.retry_after) == ("2207042", 10 * 3600.0)
    assert "1 of the 1 posts allowed per 24 h" in error.message
    assert sandbox_state.request_count("instagram", "POST /{version}/{node_id}/media") == containers


def test_the_platforms_own_limit_answer_still_waits_when_the_read_fails(
    provider: InstagramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
    jpeg: Callable[..., MediaFile],
) -> None:
    sandbox_state.override_rate_limit("instagram", "publish", limit=1, per_seconds=86_400)
    publish(provider, account, PostContent("first", media=(jpeg(),)))
    clock.advance(2 * 3600)
    limit_read = "GET /{version}/{node_id}/content_publishing_limit"
    sandbox_state.faults.set("instagram", outage=True, endpoints=frozenset({limit_read}))
    error = failure(provider, account, PostContent("second", media=(jpeg(),)), RateLimited)
    assert not isinstance(error, QuotaExhausted)  # it was sent: the platform refused it
    assert (error.code, error.retry_after) == ("9/2207042", 10 * 3600.0)


def test_an_injected_429_is_rate_limited(
    provider: InstagramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    jpeg: Callable[..., MediaFile],
) -> None:
    sandbox_state.faults.set("instagram", burst_429=1, burst_reset_seconds=120)
    error = failure(provider, account, PostContent("x", media=(jpeg(),)), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.status, error.code, error.retry_after) == (429, "80002", 120.0)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(
    provider: InstagramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    jpeg: Callable[..., MediaFile],
    status: int,
) -> None:
    sandbox_state.faults.set("instagram", error_rates={status: 1.0})
    error = failure(provider, account, PostContent("x", media=(jpeg(),)), TransientError)
    assert (type(error), error.status) == (TransientError, status)


def test_accept_then_drop_is_outcome_unknown_and_found_by_looking_back(
    provider: InstagramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
    jpeg: Callable[..., MediaFile],
) -> None:
    start = clock.now()
    publish(provider, account, PostContent("an older post", media=(jpeg(),)))
    sandbox_state.faults.set("instagram", drops=1, endpoints={PUBLISH})
    failure(provider, account, PostContent("dropped\nonce", media=(jpeg(),)), OutcomeUnknown)
    _, dropped = sandbox_state.accepted("instagram")
    found = asyncio.run(
        provider.find_recent(account, since=start, text="dropped once", idempotency_key="k")
    )
    assert found is not None and found.remote_id == dropped.remote_id
    assert found.url is not None and "/p/" in found.url
    later = start + timedelta(seconds=1)
    assert (
        asyncio.run(
            provider.find_recent(account, since=later, text="dropped once", idempotency_key="k")
        )
        is None
    )


# -- validation ------------------------------------------------------------------------


def test_validate_names_field_value_and_limit(
    jpeg: Callable[..., MediaFile], image_file: Callable[..., MediaFile]
) -> None:
    provider = InstagramProvider(None)
    tags = " ".join(f"#t{i}" for i in range(31))
    problems = provider.validate(
        PostContent(
            tags + "x" * 2200, media=(jpeg(width=2000, height=1000),) * 10 + (image_file(),)
        )
    )
    found = {(p.field, p.value, p.limit) for p in problems}
    assert ("instagram.text", len(tags) + 2200, 2200) in found
    assert ("instagram.text", 31, 30) in found
    assert ("instagram.media", 11, 10) in found
    assert ("instagram.media[0]", 2.0, "0.8-1.91") in found
    assert any(p.field == "instagram.media[10]" and p.value == "image/png" for p in problems)
    [empty] = provider.validate(PostContent("caption only"))
    assert (empty.field, empty.value, empty.limit) == ("instagram.media", 0, 1)
    story = provider.validate(PostContent("", media=(jpeg(),) * 2, settings={"post_type": "story"}))
    assert [(p.field, p.value, p.limit) for p in story] == [("instagram.media", 2, 1)]
    assert provider.validate(PostContent("ok", media=(jpeg(width=1080, height=1350),))) == []


# -- odd answers at the edge -----------------------------------------------------------


def edge_account() -> AccountCredentials:
    return AccountCredentials("acc", "instagram", "brand", "178", Secret(TOKEN))


def scripted(*answers: httpx.Response) -> InstagramProvider:
    """A provider whose calls get ``answers`` in order, after a publishing limit with room."""
    room = {"data": [{"quota_usage": 0, "config": {"quota_total": 100, "quota_duration": 86400}}]}
    queue = [httpx.Response(200, json=room), *answers]
    transport = httpx.MockTransport(lambda request: queue.pop(0))
    return InstagramProvider(httpx.AsyncClient(transport=transport), poll_interval=0)


CREATED = httpx.Response(200, json={"id": "c1"})
FINISHED = httpx.Response(200, json={"id": "c1", "status_code": "FINISHED"})


@pytest.mark.parametrize(
    ("answers", "kind", "status"),
    [
        ((httpx.Response(200, html="<html>"),), TransientError, 200),
        ((httpx.Response(200, json={}),), TransientError, 200),
        ((CREATED, httpx.Response(200, content=b"{broken")), TransientError, 200),
        ((CREATED, FINISHED, httpx.Response(200, content=b"")), OutcomeUnknown, 200),
        ((CREATED, FINISHED, httpx.Response(200, content=b'{"id": ')), OutcomeUnknown, 200),
        (
            (CREATED, FINISHED, httpx.Response(502, html="<h1>Bad Gateway</h1>")),
            TransientError,
            502,
        ),
        ((CREATED, FINISHED, httpx.Response(500, content=b"")), TransientError, 500),
    ],
)
def test_odd_answers_become_provider_errors(
    answers: tuple[httpx.Response, ...], kind: type[ProviderError], status: int
) -> None:
    media = MediaFile(Path("a.jpg"), "image/jpeg", "image", 10, public_url=f"{CDN}/a.jpg")
    with pytest.raises(ProviderError) as caught:
        asyncio.run(
            scripted(*answers).publish(
                edge_account(), PostContent("x", media=(media,)), idempotency_key="k"
            )
        )
    assert type(caught.value) is kind
    assert caught.value.status == status


def test_a_missing_permalink_does_not_fail_a_live_post() -> None:
    published = httpx.Response(200, json={"id": "m1"})
    provider = scripted(CREATED, FINISHED, published, httpx.Response(500, content=b""))
    media = MediaFile(Path("a.jpg"), "image/jpeg", "image", 10, public_url=f"{CDN}/a.jpg")
    result = asyncio.run(
        provider.publish(edge_account(), PostContent("x", media=(media,)), idempotency_key="k")
    )
    assert (result.remote_id, result.url) == ("m1", None)
