"""FacebookProvider against the sandbox: feed posts with photos, videos pulled by URL,
comments as a thread, every error class, uncertain outcomes resolved by looking back,
validation, and odd answers at the edge (MockTransport)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    OutcomeUnknown,
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
from postiz_pipelines.providers.facebook import FacebookProvider
from postiz_pipelines.sandbox import SandboxState

TOKEN = "EAAB-page-token-1234567890"
FEED = "POST /{version}/{node_id}/feed"
CLIP_URL = "https://cdn.example/media/clip.mp4"


@pytest.fixture
def account(sandbox_state: SandboxState) -> AccountCredentials:
    page = sandbox_state.provision("facebook", TOKEN, username="acme")
    return AccountCredentials(
        account_id="acc_fb",
        platform="facebook",
        handle="acme",
        external_id=page.id,
        access_token=Secret(TOKEN),
    )


@pytest.fixture
def provider(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, clock: FixedClock
) -> FacebookProvider:
    return FacebookProvider(
        sandbox_http, base_url=f"{sandbox_url}/facebook", poll_interval=0, clock=clock
    )


def publish(
    provider: FacebookProvider, account: AccountCredentials, content: PostContent
) -> PublishResult:
    return asyncio.run(provider.publish(account, content, idempotency_key="k"))


def failure(
    provider: FacebookProvider,
    account: AccountCredentials,
    content: PostContent,
    kind: type[ProviderError],
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, content)
    error = caught.value
    assert error.platform == "facebook"
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    return error


# -- publishing ------------------------------------------------------------------------


def test_capabilities_declare_facebooks_rules() -> None:
    caps = FacebookProvider.capabilities
    assert (caps.text_limit, caps.media.max_items, caps.media.max_image_bytes) == (
        63_206,
        10,
        4 * 1024 * 1024,
    )
    assert caps.supports_threads and not caps.supports_refresh
    assert caps.idempotency is IdempotencyMode.LOOKUP
    assert FacebookProvider.default_base_url == "https://graph.facebook.com"


def test_a_text_post_with_a_link(
    provider: FacebookProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(
        provider, account, PostContent("Hello page", settings={"link": "https://a.example"})
    )
    [post] = sandbox_state.accepted("facebook")
    assert (result.remote_id, result.http_status, result.thread_ids) == (post.remote_id, 200, ())
    assert (
        result.url
        == f"http://sandbox.test/facebook/{account.external_id}/posts/{post.remote_id.split('_')[1]}"
    )
    assert (post.text, post.extra["link"]) == ("Hello page", "https://a.example")


def test_photos_are_uploaded_unpublished_and_attached(
    provider: FacebookProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    media = (image_file("a.png", 64, 48), image_file("b.png", 30, 90))
    publish(provider, account, PostContent("two photos", media=media))
    [post] = sandbox_state.accepted("facebook")
    assert [(m.mime_type, m.width, m.height) for m in post.media] == [
        ("image/png", 64, 48),
        ("image/png", 30, 90),
    ]
    assert sandbox_state.request_count("facebook", "POST /{version}/{node_id}/photos") == 2


def test_a_video_is_handed_over_by_url_and_polled(
    provider: FacebookProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    video_file: Callable[..., MediaFile],
) -> None:
    video = replace(video_file(), public_url=CLIP_URL)
    result = publish(provider, account, PostContent("a clip", media=(video,), thread=("more",)))
    post, comment = sandbox_state.accepted("facebook")
    assert post.media[0].filename == CLIP_URL
    assert post.remote_id == f"{account.external_id}_{result.remote_id}"
    assert (comment.reply_to, result.thread_ids) == (post.remote_id, (comment.remote_id,))
    # two reads see it processing, the third ready; a fourth reads the permalink
    assert sandbox_state.request_count("facebook", "GET /{version}/{node_id}") == 4


def test_a_video_without_a_public_url_is_refused_before_any_request(
    provider: FacebookProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    video_file: Callable[..., MediaFile],
) -> None:
    error = failure(provider, account, PostContent("clip", media=(video_file(),)), MediaRejected)
    assert "public URL" in error.message
    assert sandbox_state.request_counts("facebook") == {}


def test_a_thread_becomes_comments_on_the_post(
    provider: FacebookProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, account, PostContent("1/3", thread=("2/3", "3/3")))
    root, *comments = sandbox_state.accepted("facebook")
    assert [c.text for c in comments] == ["2/3", "3/3"]
    assert {c.reply_to for c in comments} == {root.remote_id}
    assert result.thread_ids == tuple(c.remote_id for c in comments)


def test_page_tokens_cannot_be_refreshed(
    provider: FacebookProvider, account: AccountCredentials
) -> None:
    with pytest.raises(AuthRevoked):
        asyncio.run(provider.refresh(account))


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "subcode"), [("revoke_token", "460"), ("expire_token", "463")])
def test_a_dead_page_token_is_auth_revoked(
    provider: FacebookProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    action: str,
    subcode: str,
) -> None:
    getattr(sandbox_state, action)("facebook", TOKEN)
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert (error.status, error.code, error.retryable) == (400, f"190/{subcode}", False)


def test_another_pages_id_is_a_permission_error(
    provider: FacebookProvider, account: AccountCredentials
) -> None:
    error = failure(provider, replace(account, external_id="999"), PostContent("x"), AuthRevoked)
    assert (error.status, error.code) == (403, "200")


def test_a_duplicate_message_is_content_rejected(
    provider: FacebookProvider, account: AccountCredentials
) -> None:
    publish(provider, account, PostContent("same words"))
    error = failure(provider, account, PostContent("same words"), ContentRejected)
    assert (error.status, error.code) == (400, "506")
    assert "Duplicate" in error.message


def test_an_unreadable_photo_is_media_rejected(
    provider: FacebookProvider, account: AccountCredentials, tmp_path: Path
) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"this is not an image")
    broken = MediaFile(path=path, mime_type="image/png", kind="image", size_bytes=20)
    error = failure(provider, account, PostContent("x", media=(broken,)), MediaRejected)
    assert error.code == "324"


def test_an_oversized_photo_is_media_rejected(
    provider: FacebookProvider, account: AccountCredentials, image_file: Callable[..., MediaFile]
) -> None:
    image = image_file()
    image.path.write_bytes(image.path.read_bytes() + b"\0" * (4 * 1024 * 1024))
    error = failure(provider, account, PostContent("x", media=(image,)), MediaRejected)
    assert error.code == "100/1366046"


def test_a_video_url_facebook_cannot_fetch_is_media_rejected(
    provider: FacebookProvider, account: AccountCredentials, video_file: Callable[..., MediaFile]
) -> None:
    video = replace(video_file(), public_url="https://cdn.invalid/clip.mp4")
    error = failure(provider, account, PostContent("x", media=(video,)), MediaRejected)
    assert error.code == "389"


@pytest.mark.parametrize(("status", "code"), [(500, "1"), (503, "2"), (502, None), (504, None)])
def test_5xx_is_transient(
    provider: FacebookProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    status: int,
    code: str | None,
) -> None:
    sandbox_state.faults.set("facebook", error_rates={status: 1.0})
    error = failure(provider, account, PostContent("x"), TransientError)
    assert type(error) is TransientError
    assert (error.status, error.code, error.retryable) == (status, code, True)


def test_an_injected_429_waits_for_the_business_use_case_estimate(
    provider: FacebookProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("facebook", burst_429=1, burst_reset_seconds=600)
    error = failure(provider, account, PostContent("x"), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.status, error.code, error.retry_after) == (429, "32", 600.0)


def test_the_page_budget_throttles_until_the_window_ends(
    provider: FacebookProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
) -> None:
    sandbox_state.override_rate_limit("facebook", "api", limit=2, per_seconds=86_400)
    publish(provider, account, PostContent("first"))  # the post and its permalink
    clock.advance(3600)
    error = failure(provider, account, PostContent("second"), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.status, error.code, error.retry_after) == (400, "32", 11 * 3600.0)


def test_accept_then_drop_is_outcome_unknown_and_found_by_looking_back(
    provider: FacebookProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
) -> None:
    start = clock.now()
    sandbox_state.faults.set("facebook", drops=1, endpoints={FEED})
    failure(provider, account, PostContent("posted once"), OutcomeUnknown)
    [post] = sandbox_state.accepted("facebook")
    found = asyncio.run(
        provider.find_recent(account, since=start, text="posted  once", idempotency_key="k")
    )
    assert found is not None and found.remote_id == post.remote_id
    assert found.url is not None and found.url.endswith(post.remote_id.split("_")[1])
    missing = asyncio.run(
        provider.find_recent(account, since=start, text="never", idempotency_key="k")
    )
    assert missing is None


def test_a_timeout_is_outcome_unknown(
    provider: FacebookProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("facebook", timeouts=1, endpoints={FEED})
    assert failure(provider, account, PostContent("x"), OutcomeUnknown).retryable
    assert sandbox_state.accepted("facebook") == []


def test_a_failed_comment_never_repeats_the_live_post(
    provider: FacebookProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set(
        "facebook", error_rates={500: 1.0}, endpoints={"POST /{version}/{node_id}/comments"}
    )
    error = failure(provider, account, PostContent("root", thread=("reply",)), OutcomeUnknown)
    [root] = sandbox_state.accepted("facebook")
    assert root.remote_id in error.message
    assert (error.status, error.code) == (500, "1")


# -- validation ------------------------------------------------------------------------


def test_validate_names_field_value_and_limit(
    image_file: Callable[..., MediaFile], video_file: Callable[..., MediaFile], tmp_path: Path
) -> None:
    provider = FacebookProvider(None)
    bmp = MediaFile(path=tmp_path / "a.bmp", mime_type="image/bmp", kind="image", size_bytes=10)
    problems = provider.validate(
        PostContent("x" * 63_207, media=(image_file(),) * 10 + (bmp, video_file()))
    )
    found = {(p.field, p.value, p.limit) for p in problems}
    assert ("facebook.text", 63_207, 63_206) in found
    assert ("facebook.media", 12, 10) in found
    assert any(p.field == "facebook.media[10]" and p.value == "image/bmp" for p in problems)
    assert any("mixed" in p.message for p in problems)
    assert provider.validate(PostContent("é" * 63_206)) == []


# -- odd answers at the edge -----------------------------------------------------------


def mock_provider(handler: Callable[[httpx.Request], httpx.Response]) -> FacebookProvider:
    return FacebookProvider(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)), poll_interval=0
    )


def edge_account() -> AccountCredentials:
    return AccountCredentials("acc", "facebook", "acme", "42", Secret(TOKEN))


@pytest.mark.parametrize(
    ("answer", "kind", "status"),
    [
        (httpx.Response(502, html="<html><h1>Bad Gateway</h1></html>"), TransientError, 502),
        (httpx.Response(200, content=b""), OutcomeUnknown, 200),
        (httpx.Response(200, content=b'{"id": "42_1", '), OutcomeUnknown, 200),
        (httpx.Response(200, json={"ok": True}), OutcomeUnknown, 200),
        (httpx.Response(400, html="<html>Bad request</html>"), ContentRejected, 400),
        (httpx.Response(418, content=b""), ContentRejected, 418),
    ],
)
def test_odd_answers_to_a_post_become_provider_errors(
    answer: httpx.Response, kind: type[ProviderError], status: int
) -> None:
    provider = mock_provider(lambda request: answer)
    with pytest.raises(ProviderError) as caught:
        asyncio.run(provider.publish(edge_account(), PostContent("x"), idempotency_key="k"))
    assert type(caught.value) is kind
    assert caught.value.status == status


def test_an_unreadable_photo_upload_is_transient(image_file: Callable[..., MediaFile]) -> None:
    provider = mock_provider(lambda request: httpx.Response(200, html="<html>"))
    with pytest.raises(TransientError) as caught:
        content = PostContent("x", media=(image_file(),))
        asyncio.run(provider.publish(edge_account(), content, idempotency_key="k"))
    assert type(caught.value) is TransientError


def test_requests_use_the_versioned_url_and_the_bearer_token() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(200, json={"id": "42_7"})
        return httpx.Response(
            200, json={"id": "42_7", "permalink_url": "https://fb.example/42/posts/7"}
        )

    result = asyncio.run(
        mock_provider(answer).publish(edge_account(), PostContent("x"), idempotency_key="k")
    )
    post, read = seen
    assert str(post.url) == "https://graph.facebook.com/v24.0/42/feed"
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(post.url) and TOKEN not in post.content.decode()
    assert str(read.url).startswith("https://graph.facebook.com/v24.0/42_7?fields=")
    assert (result.remote_id, result.url) == ("42_7", "https://fb.example/42/posts/7")
