"""ThreadsProvider against the sandbox: text, image, video and carousel posts, threads of
replies, token refresh, every error class, looking back after an uncertain outcome,
validation by Threads' own count, and odd answers at the edge (MockTransport)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

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
from postiz_pipelines.providers.threads import ThreadsProvider
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app

TOKEN = "THAA-user-token-1234567890"
PUBLISH = "POST /{version}/{node_id}/threads_publish"
CDN = "https://cdn.example/media"


@pytest.fixture
def photo(image_file: Callable[..., MediaFile]) -> Callable[..., MediaFile]:
    def make(name: str = "photo.png") -> MediaFile:
        return replace(image_file(name), public_url=f"{CDN}/{name}")

    return make


@pytest.fixture
def clip(video_file: Callable[..., MediaFile]) -> Callable[..., MediaFile]:
    def make(name: str = "clip.mp4") -> MediaFile:
        return replace(video_file(name), public_url=f"{CDN}/{name}")

    return make


@pytest.fixture
def account(sandbox_state: SandboxState) -> AccountCredentials:
    user = sandbox_state.provision("threads", TOKEN, username="writer")
    return AccountCredentials(
        account_id="acc_th",
        platform="threads",
        handle="writer",
        external_id=user.id,
        access_token=Secret(TOKEN),
    )


@pytest.fixture
def provider(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, clock: FixedClock
) -> ThreadsProvider:
    return ThreadsProvider(
        sandbox_http, base_url=f"{sandbox_url}/threads", poll_interval=0, clock=clock
    )


def publish(
    provider: ThreadsProvider, account: AccountCredentials, content: PostContent
) -> PublishResult:
    return asyncio.run(provider.publish(account, content, idempotency_key="k"))


def failure(
    provider: ThreadsProvider,
    account: AccountCredentials,
    content: PostContent,
    kind: type[ProviderError],
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, content)
    error = caught.value
    assert error.platform == "threads"
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    return error


# -- publishing ------------------------------------------------------------------------


def test_capabilities_declare_threads_rules() -> None:
    caps = ThreadsProvider.capabilities
    assert (caps.text_limit, caps.media.max_items) == (500, 20)
    assert caps.supports_threads and caps.supports_refresh
    assert caps.idempotency is IdempotencyMode.LOOKUP
    assert caps.count_text("👍" * 10) == 40
    assert (ThreadsProvider.default_base_url, ThreadsProvider.api_version) == (
        "https://graph.threads.net",
        "v1.0",
    )


def test_a_text_post(
    provider: ThreadsProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, account, PostContent("Hello Threads"))
    [post] = sandbox_state.accepted("threads")
    assert (result.remote_id, post.text, post.extra["media_type"]) == (
        post.remote_id,
        "Hello Threads",
        "TEXT",
    )
    assert result.url is not None and result.url.startswith(
        "http://sandbox.test/threads/@writer/post/"
    )


def test_an_image_a_video_and_a_carousel(
    provider: ThreadsProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    photo: Callable[..., MediaFile],
    clip: Callable[..., MediaFile],
) -> None:
    publish(provider, account, PostContent("an image", media=(photo(),)))
    publish(provider, account, PostContent("a video", media=(clip(),)))
    publish(provider, account, PostContent("both", media=(photo("a.png"), clip("b.mp4"))))
    image, video, carousel = sandbox_state.accepted("threads")
    assert [p.extra["media_type"] for p in (image, video, carousel)] == [
        "IMAGE",
        "VIDEO",
        "CAROUSEL",
    ]
    assert [m.filename for m in carousel.media] == [f"{CDN}/a.png", f"{CDN}/b.mp4"]
    assert carousel.text == "both"


def test_a_three_item_thread_replies_in_a_chain(
    provider: ThreadsProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, account, PostContent("1/3", thread=("2/3", "3/3")))
    posts = sandbox_state.accepted("threads")
    assert [p.text for p in posts] == ["1/3", "2/3", "3/3"]
    assert [p.reply_to for p in posts] == [None, posts[0].remote_id, posts[1].remote_id]
    assert result.thread_ids == (posts[1].remote_id, posts[2].remote_id)
    assert asyncio.run(provider.publishing_quota(account)) == {
        "posts": (1, 250),
        "replies": (2, 1000),
    }


def test_media_without_a_public_url_is_refused_before_any_request(
    provider: ThreadsProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    error = failure(provider, account, PostContent("x", media=(image_file(),)), MediaRejected)
    assert "public URL" in error.message
    assert sandbox_state.request_counts("threads") == {}


# -- tokens ----------------------------------------------------------------------------


def test_refresh_then_publish_with_the_new_token(
    provider: ThreadsProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
) -> None:
    tokens = asyncio.run(provider.refresh(account))
    assert tokens.expires_at == clock.now() + timedelta(seconds=5_183_944)
    publish(provider, replace(account, access_token=tokens.access_token), PostContent("renewed"))
    assert sandbox_state.accepted("threads")[0].account_id == account.external_id


def test_an_expired_token_is_auth_expired_and_its_refresh_is_auth_revoked(
    provider: ThreadsProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.expire_token("threads", TOKEN)
    error = failure(provider, account, PostContent("x"), AuthExpired)
    assert (error.status, error.code, error.retryable) == (400, "190/463", True)
    with pytest.raises(AuthRevoked):
        asyncio.run(provider.refresh(account))


def test_a_revoked_token_is_auth_revoked(
    provider: ThreadsProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.revoke_token("threads", TOKEN)
    assert failure(provider, account, PostContent("x"), AuthRevoked).code == "190/460"


# -- errors ----------------------------------------------------------------------------


def test_text_over_500_by_threads_count_is_content_rejected(
    provider: ThreadsProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    error = failure(provider, account, PostContent("👍" * 126), ContentRejected)
    assert (error.status, error.code) == (400, "100")
    assert "500 characters" in error.message
    assert sandbox_state.accepted("threads") == []


def test_media_threads_refuses_is_media_rejected(
    provider: ThreadsProvider,
    account: AccountCredentials,
    photo: Callable[..., MediaFile],
    clip: Callable[..., MediaFile],
) -> None:
    gif = replace(photo(), public_url=f"{CDN}/a.gif")
    assert (
        failure(provider, account, PostContent("x", media=(gif,)), MediaRejected).code
        == "36001/2207005"
    )
    error = failure(provider, account, PostContent("x", media=(clip("clip.avi"),)), MediaRejected)
    assert (error.code, error.status) == ("FAILED_PROCESSING_VIDEO", 200)
    gone = replace(clip(), public_url="https://cdn.invalid/clip.mp4")
    assert (
        failure(provider, account, PostContent("x", media=(gone,)), MediaRejected).code
        == "FAILED_DOWNLOADING_VIDEO"
    )


def test_the_daily_post_limit_waits_until_midnight(
    provider: ThreadsProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.override_rate_limit("threads", "publish", limit=1, per_seconds=86_400)
    publish(provider, account, PostContent("first"))
    error = failure(provider, account, PostContent("second"), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.code, error.retry_after) == ("9", 12 * 3600.0)


def test_an_injected_429_is_rate_limited(
    provider: ThreadsProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("threads", burst_429=1, burst_reset_seconds=60)
    error = failure(provider, account, PostContent("x"), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.status, error.code, error.retry_after) == (429, "4", 60.0)


@pytest.mark.parametrize("status", [500, 503, 504])
def test_5xx_is_transient(
    provider: ThreadsProvider, account: AccountCredentials, sandbox_state: SandboxState, status: int
) -> None:
    sandbox_state.faults.set("threads", error_rates={status: 1.0})
    error = failure(provider, account, PostContent("x"), TransientError)
    assert (type(error), error.status) == (TransientError, status)


def test_accept_then_drop_is_outcome_unknown_and_found_by_looking_back(
    provider: ThreadsProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
) -> None:
    start = clock.now()
    sandbox_state.faults.set("threads", drops=1, endpoints={PUBLISH})
    failure(provider, account, PostContent("posted once"), OutcomeUnknown)
    [post] = sandbox_state.accepted("threads")
    found = asyncio.run(
        provider.find_recent(account, since=start, text="posted once", idempotency_key="k")
    )
    assert found is not None and found.remote_id == post.remote_id
    assert (
        asyncio.run(provider.find_recent(account, since=start, text="other", idempotency_key="k"))
        is None
    )


def test_a_failed_reply_never_repeats_the_live_root(
    provider: ThreadsProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.override_rate_limit("threads", "reply", limit=1, per_seconds=86_400)
    error = failure(provider, account, PostContent("root", thread=("r1", "r2")), OutcomeUnknown)
    posts = sandbox_state.accepted("threads")
    assert [p.text for p in posts] == ["root", "r1"]
    assert posts[0].remote_id in error.message
    assert error.code == "9"  # the reply quota refused the second reply


# -- validation ------------------------------------------------------------------------


def test_validate_counts_like_threads(photo: Callable[..., MediaFile], tmp_path: Path) -> None:
    provider = ThreadsProvider(None)
    webp = MediaFile(tmp_path / "a.webp", "image/webp", "image", 10)
    problems = provider.validate(
        PostContent("👍" * 126, media=(photo(),) * 20 + (webp,), thread=("x" * 501,))
    )
    found = {(p.field, p.value, p.limit) for p in problems}
    assert ("threads.text", 504, 500) in found
    assert ("threads.thread[1]", 501, 500) in found
    assert ("threads.media", 21, 20) in found
    assert any(p.field == "threads.media[20]" and p.value == "image/webp" for p in problems)
    assert provider.validate(PostContent("👍" * 125)) == []


PIECES = st.sampled_from(["a", "é", "👍", "👍🏽", "👨‍👩‍👧", " ", "\n", "https://example.com/x"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(PIECES, min_size=1, max_size=40), repeat=st.integers(1, 15))
def test_validate_and_the_sandbox_agree_on_the_limit(parts: list[str], repeat: int) -> None:
    text = "".join(parts) * repeat
    state = SandboxState()
    provider = ThreadsProvider(
        httpx.AsyncClient(transport=SandboxTransport(create_app(state), timeout=5)),
        base_url="http://s/threads",
        poll_interval=0,
    )
    account = AccountCredentials("a", "threads", "h", "", Secret("t"))
    account.external_id = state.provision("threads", "t").id
    too_long = any(p.field == "threads.text" for p in provider.validate(PostContent(text)))
    try:
        asyncio.run(provider.publish(account, PostContent(text), idempotency_key="k"))
        accepted = True
    except ContentRejected:
        accepted = False
    assert accepted == (not too_long and bool(text.strip()))


# -- odd answers at the edge -----------------------------------------------------------


def edge_account() -> AccountCredentials:
    return AccountCredentials("acc", "threads", "writer", "77", Secret(TOKEN))


def scripted(*answers: httpx.Response, seen: list[httpx.Request] | None = None) -> ThreadsProvider:
    queue = list(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return queue.pop(0)

    return ThreadsProvider(
        httpx.AsyncClient(transport=httpx.MockTransport(answer)), poll_interval=0
    )


CREATED = httpx.Response(200, json={"id": "c1"})
FINISHED = httpx.Response(200, json={"id": "c1", "status": "FINISHED"})


@pytest.mark.parametrize(
    ("answers", "kind", "status"),
    [
        ((httpx.Response(200, html="<html>"),), TransientError, 200),
        ((CREATED, FINISHED, httpx.Response(200, content=b"")), OutcomeUnknown, 200),
        ((CREATED, FINISHED, httpx.Response(200, content=b"{oops")), OutcomeUnknown, 200),
        ((CREATED, FINISHED, httpx.Response(503, html="<h1>down</h1>")), TransientError, 503),
        (
            (CREATED, httpx.Response(200, json={"id": "c1", "status": "EXPIRED"})),
            TransientError,
            200,
        ),
    ],
)
def test_odd_answers_become_provider_errors(
    answers: tuple[httpx.Response, ...], kind: type[ProviderError], status: int
) -> None:
    with pytest.raises(ProviderError) as caught:
        asyncio.run(
            scripted(*answers).publish(edge_account(), PostContent("x"), idempotency_key="k")
        )
    assert type(caught.value) is kind
    assert caught.value.status == status


def test_requests_reach_graph_threads_net_with_the_bearer_token() -> None:
    seen: list[httpx.Request] = []
    provider = scripted(
        CREATED,
        FINISHED,
        httpx.Response(200, json={"id": "t1"}),
        httpx.Response(200, json={"id": "t1", "permalink": "https://threads.example/t1"}),
        seen=seen,
    )
    result = asyncio.run(provider.publish(edge_account(), PostContent("x"), idempotency_key="k"))
    assert [f"{r.method} {r.url.path}" for r in seen] == [
        "POST /v1.0/77/threads",
        "GET /v1.0/c1",
        "POST /v1.0/77/threads_publish",
        "GET /v1.0/t1",
    ]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in seen)
    assert seen[0].url.host == "graph.threads.net"
    assert (result.remote_id, result.url) == ("t1", "https://threads.example/t1")
