"""XProvider against the sandbox: tokens, posts, images, chunked GIF and video with status
polling, threads, every error class, validation by weighted length, and odd answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthExpired,
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    OAuthClientMisconfigured,
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
from postiz_pipelines.providers.registry import provider_class
from postiz_pipelines.providers.x import XProvider
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app

CLIENT_ID = "postiz-test-client"
TWEETS = "POST /2/tweets"
STATUS = "GET /2/media/upload"


@pytest.fixture
def provider(sandbox_http: httpx.AsyncClient, sandbox_url: str, clock: FixedClock) -> XProvider:
    return XProvider(
        sandbox_http,
        base_url=f"{sandbox_url}/x",
        client_id=CLIENT_ID,
        chunk_bytes=1024,
        poll_interval=0,
        clock=clock,
    )


@pytest.fixture
def account(provider: XProvider, sandbox_state: SandboxState) -> AccountCredentials:
    sandbox_state.provision("x", "code:alice-code", username="alice")
    tokens = asyncio.run(
        provider.exchange_code(
            "alice-code", redirect_uri="https://app.test/cb", code_verifier="v" * 43
        )
    )
    account = AccountCredentials(
        account_id="acc_1",
        platform="x",
        handle="alice",
        external_id="",
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        token_expires_at=tokens.expires_at,
    )
    account.external_id = str(asyncio.run(provider.me(account))["id"])
    return account


def publish(
    provider: XProvider, account: AccountCredentials, content: PostContent, key: str = "k1"
) -> PublishResult:
    return asyncio.run(provider.publish(account, content, idempotency_key=key))


def failure(
    provider: XProvider,
    account: AccountCredentials,
    content: PostContent,
    kind: type[ProviderError],
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, content)
    error = caught.value
    assert error.platform == "x"
    for secret in (account.access_token, account.refresh_token):
        assert secret is None or (secret not in str(error) and secret not in repr(error))
    return error


def gif_file(tmp_path: Path, size: int = 3000) -> MediaFile:
    path = tmp_path / "loop.gif"
    path.write_bytes(b"GIF89a" + b"\x00" * (size - 6))
    return MediaFile(path=path, mime_type="image/gif", kind="image", size_bytes=size)


# -- tokens ----------------------------------------------------------------------------


def test_capabilities_declare_xs_rules() -> None:
    caps = XProvider.capabilities
    assert (caps.text_limit, caps.text_unit) == (280, "weighted characters")
    assert caps.idempotency is IdempotencyMode.NONE
    assert caps.supports_threads and caps.supports_refresh
    assert (caps.media.max_image_bytes, caps.media.max_gif_bytes) == (5 * 2**20, 15 * 2**20)
    assert caps.count_text("👍🏽 https://example.com/" + "x" * 50) == 2 + 1 + 23
    assert provider_class("x") is XProvider


def test_a_code_exchange_yields_two_hour_tokens_of_the_user(
    account: AccountCredentials, clock: FixedClock, sandbox_state: SandboxState
) -> None:
    assert account.token_expires_at == clock.now() + timedelta(hours=2)
    assert account.refresh_token is not None
    remote = sandbox_state.authenticate("x", "code:alice-code").account
    assert account.external_id == remote.id


def test_an_expired_token_is_refreshed_and_the_post_then_succeeds(
    provider: XProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
) -> None:
    clock.advance(2 * 3600)
    error = failure(provider, account, PostContent("after refresh"), AuthExpired)
    assert (error.status, error.retryable) == (401, True)
    old_refresh = account.refresh_token
    tokens = asyncio.run(provider.refresh(account))
    assert tokens.expires_at == clock.now() + timedelta(hours=2)
    account.access_token, account.refresh_token = tokens.access_token, tokens.refresh_token
    publish(provider, account, PostContent("after refresh"))
    [post] = sandbox_state.accepted("x")
    assert (post.text, post.account_id) == ("after refresh", account.external_id)
    with pytest.raises(AuthRevoked) as caught:  # refresh tokens are single-use
        asyncio.run(provider.refresh(replace(account, refresh_token=old_refresh)))
    assert (caught.value.status, caught.value.code) == (400, "invalid_request")


def test_a_confidential_client_refreshes_with_basic_auth(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, account: AccountCredentials
) -> None:
    confidential = XProvider(
        sandbox_http,
        base_url=f"{sandbox_url}/x",
        client_id=CLIENT_ID,
        client_secret=Secret("s3cr3t"),
    )
    tokens = asyncio.run(confidential.refresh(account))
    assert tokens.refresh_token is not None and tokens.refresh_token != account.refresh_token


def test_refresh_needs_a_client_id_and_a_refresh_token(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, account: AccountCredentials
) -> None:
    anonymous = XProvider(sandbox_http, base_url=f"{sandbox_url}/x")
    with pytest.raises(OAuthClientMisconfigured, match="POSTIZ_X_CLIENT_ID") as caught:
        asyncio.run(anonymous.refresh(account))
    assert caught.value.variable == "POSTIZ_X_CLIENT_ID"  # the settings, not the account
    account.settings["client_id"] = CLIENT_ID  # the account's own app, when it has one
    assert asyncio.run(anonymous.refresh(account)).access_token
    with pytest.raises(AuthRevoked, match="no refresh token"):
        asyncio.run(anonymous.refresh(replace(account, refresh_token=None)))


# -- publishing ------------------------------------------------------------------------


def test_a_text_post(
    provider: XProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, account, PostContent("Hello X"))
    [post] = sandbox_state.accepted("x")
    assert result.remote_id == post.remote_id
    assert (result.url, result.http_status) == (f"https://x.com/alice/status/{post.remote_id}", 201)
    assert (post.text, post.handle, post.extra["author_id"]) == (
        "Hello X",
        "alice",
        account.external_id,
    )


def test_two_images_with_alt_text(
    provider: XProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    media = (image_file("a.png", 64, 48, "first"), image_file("b.png"))
    publish(provider, account, PostContent("two pictures", media=media))
    [post] = sandbox_state.accepted("x")
    assert [m.description for m in post.media] == ["first", ""]
    assert [k.split("_")[0] for k in post.extra["media_keys"]] == ["3", "3"]
    counts = sandbox_state.request_counts("x")
    assert (counts["POST /2/media/upload"], counts["POST /2/media/metadata"]) == (2, 1)
    assert STATUS not in counts  # images need no processing


def test_a_video_is_uploaded_in_chunks_and_polled(
    provider: XProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    video_file: Callable[..., MediaFile],
) -> None:
    clip = video_file()  # 2,060 bytes: three 1,024-byte chunks
    publish(provider, account, PostContent("a clip", media=(clip,)))
    [post] = sandbox_state.accepted("x")
    assert post.extra["media_keys"][0].startswith("7_")
    assert post.media[0].size_bytes == clip.size_bytes
    counts = sandbox_state.request_counts("x")
    assert counts["POST /2/media/upload/{media_id}/append"] == 3
    assert counts["POST /2/media/upload/{media_id}/finalize"] == 1
    assert counts[STATUS] == 3  # in progress twice, then succeeded


def test_a_gif_is_uploaded_in_chunks_as_tweet_gif(
    provider: XProvider, account: AccountCredentials, sandbox_state: SandboxState, tmp_path: Path
) -> None:
    publish(provider, account, PostContent("a loop", media=(gif_file(tmp_path),)))
    [post] = sandbox_state.accepted("x")
    assert post.extra["media_keys"][0].startswith("16_")


def test_a_video_that_fails_processing_is_media_rejected(
    provider: XProvider, account: AccountCredentials, tmp_path: Path
) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"no container here" * 20)
    broken = MediaFile(path=path, mime_type="video/mp4", kind="video", size_bytes=340)
    error = failure(provider, account, PostContent("x", media=(broken,)), MediaRejected)
    assert (error.code, error.status) == ("InvalidMedia", 200)
    assert "UnsupportedMedia" in error.message


def test_a_video_that_never_finishes_is_transient(
    sandbox_http: httpx.AsyncClient,
    sandbox_url: str,
    account: AccountCredentials,
    video_file: Callable[..., MediaFile],
) -> None:
    impatient = XProvider(sandbox_http, base_url=f"{sandbox_url}/x", poll_interval=0, max_polls=1)
    error = failure(impatient, account, PostContent("x", media=(video_file(),)), TransientError)
    assert "still processing" in error.message


def test_a_three_item_thread_replies_in_order(
    provider: XProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, account, PostContent("1/3", thread=("2/3", "3/3")))
    posts = sandbox_state.accepted("x")
    assert [p.text for p in posts] == ["1/3", "2/3", "3/3"]
    assert [p.reply_to for p in posts] == [None, posts[0].remote_id, posts[1].remote_id]
    assert result.thread_ids == (posts[1].remote_id, posts[2].remote_id)


# -- errors ----------------------------------------------------------------------------


def test_401_without_a_refresh_token_is_auth_revoked(
    provider: XProvider, sandbox_state: SandboxState
) -> None:
    sandbox_state.revoke_token("x", "oauth1-token")
    account = AccountCredentials("acc_2", "x", "bob", "2", Secret("oauth1-token"))
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert (error.status, error.code) == (401, "Unauthorized")


def test_a_suspended_account_is_auth_revoked(
    provider: XProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.set_disabled("x", "code:alice-code")
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert error.status == 403 and "suspended" in error.message


def test_duplicate_content_is_content_rejected(
    provider: XProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    publish(provider, account, PostContent("same words"))
    error = failure(provider, account, PostContent("same words"), ContentRejected)
    assert (error.status, error.code, error.retryable) == (403, "Forbidden", False)
    assert "duplicate content" in error.message
    assert len(sandbox_state.accepted("x")) == 1


def test_text_over_280_weighted_is_content_rejected(
    provider: XProvider, account: AccountCredentials
) -> None:
    error = failure(provider, account, PostContent("あ" * 141), ContentRejected)
    assert (error.status, error.code) == (400, "invalid-request")
    assert error.message == "x: Tweet text is too long."


def test_a_broken_image_is_media_rejected(
    provider: XProvider, account: AccountCredentials, tmp_path: Path
) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"this is not an image")
    broken = MediaFile(path=path, mime_type="image/png", kind="image", size_bytes=20)
    error = failure(provider, account, PostContent("x", media=(broken,)), MediaRejected)
    assert (error.status, error.message) == (400, "x: media type unrecognized.")


def test_a_missing_media_file_is_media_rejected_without_a_request(
    provider: XProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    before = sandbox_state.request_counts("x")
    gone = MediaFile(
        path=Path("/nonexistent/x.png"), mime_type="image/png", kind="image", size_bytes=1
    )
    assert (
        "x.png"
        in failure(provider, account, PostContent("x", media=(gone,)), MediaRejected).message
    )
    assert sandbox_state.request_counts("x") == before


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(
    provider: XProvider, account: AccountCredentials, sandbox_state: SandboxState, status: int
) -> None:
    sandbox_state.faults.set("x", error_rates={status: 1.0})
    error = failure(provider, account, PostContent("x"), TransientError)
    assert type(error) is TransientError
    assert (error.status, error.retryable) == (status, True)


def test_429_burst_gives_retry_after_from_the_reset_header(
    provider: XProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("x", burst_429=1, burst_reset_seconds=42)
    error = failure(provider, account, PostContent("x"), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.status, error.retry_after) == (429, 42.0)


def test_429_from_the_user_window_waits_for_its_reset(
    provider: XProvider, account: AccountCredentials, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    sandbox_state.override_rate_limit("x", "tweets", limit=1, per_seconds=900)
    publish(provider, account, PostContent("first"))
    clock.advance(300)
    error = failure(provider, account, PostContent("second"), RateLimited)
    assert isinstance(error, RateLimited) and error.retry_after == 600.0


def test_429_from_the_apps_day_waits_for_the_day(
    provider: XProvider, account: AccountCredentials, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    sandbox_state.override_rate_limit("x", "tweets-app", limit=1, per_seconds=86400)
    publish(provider, account, PostContent("first"))
    error = failure(provider, account, PostContent("second"), RateLimited)
    assert isinstance(error, RateLimited) and error.retry_after == 12 * 3600.0  # until 00:00 UTC


def test_accept_then_drop_is_outcome_unknown(
    provider: XProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("x", drops=1)
    error = failure(provider, account, PostContent("maybe"), OutcomeUnknown)
    assert error.retryable  # but X has no idempotency: the engine hands it to a person
    assert [p.text for p in sandbox_state.accepted("x")] == ["maybe"]


def test_a_timeout_is_outcome_unknown(
    provider: XProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("x", timeouts=1, endpoints={TWEETS})
    failure(provider, account, PostContent("x"), OutcomeUnknown)
    assert sandbox_state.accepted("x") == []


# -- validation ------------------------------------------------------------------------


def problems_of(content: PostContent) -> dict[str, tuple[Any, Any]]:
    return {p.field: (p.value, p.limit) for p in XProvider(None).validate(content)}


def test_validate_counts_weighted_characters() -> None:
    assert problems_of(PostContent("x" * 280)) == {}
    assert problems_of(PostContent("あ" * 140)) == {}
    assert problems_of(PostContent("あ" * 141)) == {"x.text": (282, 280)}
    assert problems_of(PostContent("👨‍👩‍👧" * 140)) == {}  # a ZWJ sequence weighs 2
    url = "https://example.com/" + "a" * 300
    assert problems_of(PostContent("x" * 256 + " " + url)) == {}  # 256 + 1 + 23
    assert problems_of(PostContent("ok", thread=("x" * 281,))) == {"x.thread[1]": (281, 280)}


def test_validate_names_media_problems(
    image_file: Callable[..., MediaFile], video_file: Callable[..., MediaFile], tmp_path: Path
) -> None:
    images = tuple(image_file(f"{i}.png") for i in range(5))
    assert problems_of(PostContent("x", media=images))["x.media"] == (5, 4)
    assert problems_of(PostContent("x", media=(gif_file(tmp_path), image_file())))["x.media"] == (
        2,
        1,
    )
    wide = video_file(width=1600, height=400)
    assert problems_of(PostContent("x", media=(wide,)))["x.media[0]"] == (4.0, "1:3-3:1")
    long_clip = replace(video_file(), duration_ms=141_000)
    assert problems_of(PostContent("x", media=(long_clip,)))["x.media[0]"] == (141, 140)
    big_gif = replace(gif_file(tmp_path), size_bytes=15 * 2**20 + 1)
    assert problems_of(PostContent("x", media=(big_gif,)))["x.media[0]"] == (
        15 * 2**20 + 1,
        15 * 2**20,
    )
    bmp = replace(image_file(), mime_type="image/bmp")
    assert problems_of(PostContent("x", media=(bmp,)))["x.media[0]"][0] == "image/bmp"
    alt = replace(image_file(), alt_text="a" * 1001)
    assert problems_of(PostContent("x", media=(alt,)))["x.media[0].alt_text"] == (1001, 1000)


PIECES = st.sampled_from(
    ["a", "é", "あ", "👍🏽", "👨‍👩‍👧", " ", "\n", "https://example.com/x", "—"]
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(PIECES, min_size=1, max_size=40), repeat=st.integers(1, 12))
def test_validate_and_the_sandbox_agree_on_the_limit(parts: list[str], repeat: int) -> None:
    text = "".join(parts) * repeat
    state = SandboxState()
    http = httpx.AsyncClient(transport=SandboxTransport(create_app(state), timeout=5))
    provider = XProvider(http, base_url="http://s/x")
    account = AccountCredentials("a", "x", "h", "1", Secret("raw-token"))
    problems = provider.validate(PostContent(text))
    refused = any(p.field == "x.text" and p.limit == 280 for p in problems)
    try:
        asyncio.run(provider.publish(account, PostContent(text), idempotency_key="k"))
        accepted = True
    except ContentRejected:
        accepted = False
    assert accepted == (not refused and bool(text.strip()))


# -- odd answers at the edge -----------------------------------------------------------


def edge_account() -> AccountCredentials:
    return AccountCredentials("acc_1", "x", "alice", "1", Secret("tok"), Secret("ref"))


@pytest.mark.parametrize(
    ("answer", "kind", "status"),
    [
        (httpx.Response(502, html="<html><h1>502 Bad Gateway</h1></html>"), TransientError, 502),
        (httpx.Response(201, content=b""), OutcomeUnknown, 201),
        (httpx.Response(201, content=b'{"data": {"id": "1", '), OutcomeUnknown, 201),
        (httpx.Response(201, html="<html>over capacity</html>"), OutcomeUnknown, 201),
        (httpx.Response(400, html="<html>bad</html>"), ContentRejected, 400),
        (httpx.Response(418, content=b""), ProviderError, 418),
    ],
)
def test_odd_answers_to_a_post_become_provider_errors(
    answer: httpx.Response, kind: type[ProviderError], status: int
) -> None:
    provider = XProvider(httpx.AsyncClient(transport=httpx.MockTransport(lambda request: answer)))
    with pytest.raises(ProviderError) as caught:
        asyncio.run(provider.publish(edge_account(), PostContent("x"), idempotency_key="k"))
    assert type(caught.value) is kind
    assert caught.value.status == status


def test_an_unreadable_token_answer_is_transient() -> None:
    answer = httpx.Response(200, html="<html>login</html>")
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: answer))
    provider = XProvider(http, client_id=CLIENT_ID)
    with pytest.raises(TransientError) as caught:
        asyncio.run(provider.refresh(edge_account()))
    assert "text/html" in caught.value.message
    assert "ref" not in repr(caught.value).replace("refresh", "")


def test_a_post_refused_for_its_media_ids_is_media_rejected() -> None:
    body = {
        "errors": [
            {"parameters": {"media.media_ids": ["99"]}, "message": "Your media IDs are invalid."}
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    answer = httpx.Response(400, json=body)
    provider = XProvider(httpx.AsyncClient(transport=httpx.MockTransport(lambda request: answer)))
    with pytest.raises(MediaRejected) as caught:
        asyncio.run(provider.publish(edge_account(), PostContent("x"), idempotency_key="k"))
    assert (caught.value.code, caught.value.message) == (
        "invalid-request",
        "x: Your media IDs are invalid.",
    )
