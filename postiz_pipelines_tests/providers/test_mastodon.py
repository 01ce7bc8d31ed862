"""MastodonProvider against the sandbox: publishing, every error class, uncertain
outcomes, validation, and odd answers at the edge (MockTransport)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
)
from postiz_pipelines.providers.mastodon import MastodonProvider, instance_limits
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app

TOKEN = "tok-alice-1234567890"
STATUSES = "POST /api/v1/statuses"


@pytest.fixture
def account(sandbox_state: SandboxState, sandbox_url: str) -> AccountCredentials:
    remote = sandbox_state.provision("mastodon", TOKEN, username="alice")
    return AccountCredentials(
        account_id="acc_1",
        platform="mastodon",
        handle="alice",
        external_id=remote.id,
        access_token=Secret(TOKEN),
        base_url=f"{sandbox_url}/mastodon",
    )


@pytest.fixture
def provider(sandbox_http: httpx.AsyncClient, clock: FixedClock) -> MastodonProvider:
    return MastodonProvider(sandbox_http, poll_interval=0, clock=clock)


def publish(
    provider: MastodonProvider, account: AccountCredentials, content: PostContent, key: str = "k1"
):  # type: ignore[no-untyped-def]
    return asyncio.run(provider.publish(account, content, idempotency_key=key))


def failure(
    provider: MastodonProvider,
    account: AccountCredentials,
    content: PostContent,
    kind: type[ProviderError],
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, content)
    error = caught.value
    assert error.platform == "mastodon"
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    return error


# -- publishing ------------------------------------------------------------------------


def test_capabilities_declare_mastodons_rules() -> None:
    caps = MastodonProvider.capabilities
    assert (caps.text_limit, caps.media.max_items) == (500, 4)
    assert caps.supports_threads and not caps.supports_refresh
    assert caps.idempotency is IdempotencyMode.NATIVE_KEY
    assert (caps.rate_limit.requests, caps.rate_limit.per_seconds) == (300, 300)
    assert caps.count_text("https://example.com/" + "x" * 100) == 23


def test_a_text_post(
    provider: MastodonProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    content = PostContent("Hello fediverse", settings={"visibility": "unlisted", "language": "en"})
    result = publish(provider, account, content, key="job-1")
    [post] = sandbox_state.accepted("mastodon")
    assert result.remote_id == post.remote_id
    assert result.url == f"http://sandbox.test/mastodon/@alice/{post.remote_id}"
    assert (result.thread_ids, result.http_status) == ((), 200)
    assert (post.text, post.handle, post.idempotency_key) == ("Hello fediverse", "alice", "job-1")
    assert (post.extra["visibility"], post.extra["language"]) == ("unlisted", "en")


def test_a_post_with_two_images(
    provider: MastodonProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    media = (image_file("a.png", 64, 48, "first"), image_file("b.png", 30, 90, "second"))
    publish(provider, account, PostContent("two pictures", media=media))
    [post] = sandbox_state.accepted("mastodon")
    assert [(m.description, m.width, m.height) for m in post.media] == [
        ("first", 64, 48),
        ("second", 30, 90),
    ]
    assert [m.mime_type for m in post.media] == ["image/png", "image/png"]
    assert sandbox_state.request_count("mastodon", "POST /api/v2/media") == 2
    assert sandbox_state.request_count("mastodon", "GET /api/v1/media/{media_id}") == 0


def test_a_video_is_polled_until_processed(
    provider: MastodonProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    video_file: Callable[..., MediaFile],
) -> None:
    publish(provider, account, PostContent("a clip", media=(video_file(),)))
    [post] = sandbox_state.accepted("mastodon")
    assert [m.mime_type for m in post.media] == ["video/mp4"]
    assert post.media[0].ready
    # Two polls answer 206 (processing), the third 200.
    assert sandbox_state.request_count("mastodon", "GET /api/v1/media/{media_id}") == 3


def test_a_video_that_never_finishes_is_transient(
    sandbox_http: httpx.AsyncClient,
    account: AccountCredentials,
    video_file: Callable[..., MediaFile],
) -> None:
    impatient = MastodonProvider(sandbox_http, poll_interval=0, max_polls=1)
    error = failure(impatient, account, PostContent("clip", media=(video_file(),)), TransientError)
    assert "still processing" in error.message


def test_a_three_item_thread_replies_in_order(
    provider: MastodonProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, account, PostContent("1/3", thread=("2/3", "3/3")), key="t")
    posts = sandbox_state.accepted("mastodon")
    assert [p.text for p in posts] == ["1/3", "2/3", "3/3"]
    assert [p.idempotency_key for p in posts] == ["t", "t:1", "t:2"]
    assert [p.reply_to for p in posts] == [None, posts[0].remote_id, posts[1].remote_id]
    assert result.remote_id == posts[0].remote_id
    assert result.thread_ids == (posts[1].remote_id, posts[2].remote_id)


# -- errors ----------------------------------------------------------------------------


def test_401_is_auth_revoked(
    provider: MastodonProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.revoke_token("mastodon", TOKEN)
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert (error.status, error.retryable) == (401, False)
    assert "revoked" in error.message


def test_403_disabled_account_is_auth_revoked(
    provider: MastodonProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.set_disabled("mastodon", TOKEN)
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert (error.status, error.message) == (403, "mastodon: Your login is currently disabled")


def test_422_text_is_content_rejected(
    provider: MastodonProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    error = failure(provider, account, PostContent("x" * 501), ContentRejected)
    assert error.status == 422
    assert "character limit of 500" in error.message
    assert sandbox_state.accepted("mastodon") == []


def test_422_media_is_media_rejected(
    provider: MastodonProvider, account: AccountCredentials, tmp_path: Path
) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"this is not an image")
    broken = MediaFile(path=path, mime_type="image/png", kind="image", size_bytes=20)
    error = failure(provider, account, PostContent("x", media=(broken,)), MediaRejected)
    assert error.status == 422
    assert "could not be processed" in error.message


def test_missing_media_file_is_media_rejected_without_a_request(
    provider: MastodonProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    gone = MediaFile(
        path=Path("/nonexistent/x.png"), mime_type="image/png", kind="image", size_bytes=1
    )
    error = failure(provider, account, PostContent("x", media=(gone,)), MediaRejected)
    assert "x.png" in error.message
    assert sandbox_state.request_counts("mastodon") == {}


def test_429_burst_gives_retry_after_from_the_reset_header(
    provider: MastodonProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("mastodon", burst_429=1, burst_reset_seconds=42)
    error = failure(provider, account, PostContent("x"), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.status, error.retry_after, error.retryable) == (429, 42.0, True)


def test_429_from_the_real_budget_waits_for_the_window(
    provider: MastodonProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
) -> None:
    sandbox_state.override_rate_limit("mastodon", "api", limit=1, per_seconds=300)
    publish(provider, account, PostContent("first"), key="a")
    clock.advance(100)
    with pytest.raises(RateLimited) as caught:
        publish(provider, account, PostContent("second"), key="b")
    assert caught.value.retry_after == 200.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(
    provider: MastodonProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    status: int,
) -> None:
    sandbox_state.faults.set("mastodon", error_rates={status: 1.0})
    error = failure(provider, account, PostContent("x"), TransientError)
    assert type(error) is TransientError
    assert (error.status, error.retryable) == (status, True)


def test_outage_is_transient(
    provider: MastodonProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("mastodon", outage=True)
    assert failure(provider, account, PostContent("x"), TransientError).status == 503


def test_accept_then_drop_is_outcome_unknown_and_a_retry_posts_once(
    provider: MastodonProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("mastodon", drops=1)
    content = PostContent("only once", thread=("and its reply",))
    failure(provider, account, content, OutcomeUnknown)
    assert [p.text for p in sandbox_state.accepted("mastodon")] == ["only once"]
    result = publish(provider, account, content)
    posts = sandbox_state.accepted("mastodon")
    assert [p.text for p in posts] == ["only once", "and its reply"]
    assert result.remote_id == posts[0].remote_id
    assert sandbox_state.request_count("mastodon", STATUSES) == 3


def test_a_timeout_is_outcome_unknown(
    provider: MastodonProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("mastodon", timeouts=1, endpoints={STATUSES})
    error = failure(provider, account, PostContent("x"), OutcomeUnknown)
    assert error.retryable
    assert sandbox_state.accepted("mastodon") == []


# -- odd answers at the edge -----------------------------------------------------------


def mock_provider(handler: Callable[[httpx.Request], httpx.Response]) -> MastodonProvider:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return MastodonProvider(http, poll_interval=0)


def edge_account() -> AccountCredentials:
    return AccountCredentials(
        account_id="acc_1",
        platform="mastodon",
        handle="alice",
        external_id="1",
        access_token=Secret(TOKEN),
        base_url="https://social.example",
    )


@pytest.mark.parametrize(
    ("answer", "kind", "status"),
    [
        (httpx.Response(502, html="<html><h1>502 Bad Gateway</h1></html>"), TransientError, 502),
        (httpx.Response(200, content=b""), OutcomeUnknown, 200),
        (httpx.Response(200, content=b'{"id": "1", '), OutcomeUnknown, 200),
        (httpx.Response(200, html="<html>maintenance</html>"), OutcomeUnknown, 200),
        (httpx.Response(503, content=b"{broken"), TransientError, 503),
        (httpx.Response(418, content=b""), ProviderError, 418),
    ],
)
def test_odd_answers_to_a_status_become_provider_errors(
    answer: httpx.Response, kind: type[ProviderError], status: int
) -> None:
    provider = mock_provider(lambda request: answer)
    with pytest.raises(ProviderError) as caught:
        asyncio.run(provider.publish(edge_account(), PostContent("x"), idempotency_key="k"))
    assert type(caught.value) is kind
    assert caught.value.status == status


def test_odd_answers_to_reads_and_uploads_are_transient(
    image_file: Callable[..., MediaFile],
) -> None:
    provider = mock_provider(lambda request: httpx.Response(200, content=b"<html>"))
    with pytest.raises(TransientError) as caught:
        asyncio.run(provider.fetch_instance(edge_account()))
    assert "unreadable" in caught.value.message
    with pytest.raises(TransientError):
        content = PostContent("x", media=(image_file(),))
        asyncio.run(provider.publish(edge_account(), content, idempotency_key="k"))


def test_a_refused_connection_is_transient_not_uncertain() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(TransientError) as caught:
        asyncio.run(
            mock_provider(refuse).publish(edge_account(), PostContent("x"), idempotency_key="k")
        )
    assert type(caught.value) is TransientError
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_requests_carry_the_bearer_token_and_the_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "9", "url": "https://social.example/@alice/9"})

    result = asyncio.run(
        mock_provider(answer).publish(edge_account(), PostContent("x"), idempotency_key="job-7")
    )
    [request] = seen
    assert str(request.url) == "https://social.example/api/v1/statuses"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Idempotency-Key"] == "job-7"
    assert result.url == "https://social.example/@alice/9"


# -- validation, the instance, and looking back ----------------------------------------


def test_validate_names_field_value_and_limit(
    image_file: Callable[..., MediaFile], video_file: Callable[..., MediaFile]
) -> None:
    provider = MastodonProvider(None)  # type: ignore[arg-type]
    problems = provider.validate(
        PostContent(
            "x" * 501,
            media=(image_file(alt_text="a" * 1501), video_file(width=4000, height=4000)),
            settings={"visibility": "everyone"},
        )
    )
    found = {(p.field, p.value, p.limit) for p in problems}
    assert ("mastodon.text", 501, 500) in found
    assert ("mastodon.media[0].alt_text", 1501, 1500) in found
    assert ("mastodon.media[1]", 16_000_000, 8_294_400) in found
    assert any(p.field == "mastodon.visibility" and p.value == "everyone" for p in problems)
    assert any("mixed" in p.message for p in problems)
    assert provider.validate(PostContent("x" * 500)) == []


def test_validate_counts_the_content_warning_and_urls() -> None:
    provider = MastodonProvider(None)  # type: ignore[arg-type]
    url = "https://example.com/" + "y" * 200
    assert provider.validate(PostContent("x" * 470 + " " + url)) == []
    [problem] = provider.validate(PostContent("x" * 490, settings={"spoiler_text": "w" * 20}))
    assert (problem.field, problem.value, problem.limit) == ("mastodon.spoiler_text", 510, 500)


def test_validate_uses_the_accounts_instance_limits(
    provider: MastodonProvider, account: AccountCredentials, image_file: Callable[..., MediaFile]
) -> None:
    account.settings["instance"] = {"max_characters": 1000, "max_media_attachments": 2}
    assert provider.text_limit(account) == 1000
    assert provider.validate(PostContent("x" * 900), account) == []
    [problem] = provider.validate(PostContent("x", media=(image_file(),) * 3), account)
    assert (problem.field, problem.value, problem.limit) == ("mastodon.media", 3, 2)


def test_fetch_instance_feeds_the_account_settings(
    provider: MastodonProvider, account: AccountCredentials
) -> None:
    instance = asyncio.run(provider.fetch_instance(account))
    limits = instance_limits(instance)
    assert limits["max_characters"] == 500
    assert limits["image_size_limit"] == 16 * 1024 * 1024
    assert "video/mp4" in limits["supported_mime_types"]
    account.settings["instance"] = limits
    assert provider.capabilities_for(account).media.max_video_bytes == 103_809_024


def test_find_recent_finds_a_published_status(
    provider: MastodonProvider, account: AccountCredentials, clock: FixedClock
) -> None:
    start = clock.now()
    text = "Line one\n\nLine <two> & https://example.com/a?b=c"
    result = publish(provider, account, PostContent(text))
    publish(provider, account, PostContent("something else"), key="other")
    found = asyncio.run(provider.find_recent(account, since=start, text=text, idempotency_key="k1"))
    assert found is not None
    assert (found.remote_id, found.url) == (result.remote_id, result.url)
    missing = asyncio.run(
        provider.find_recent(account, since=start, text="never posted", idempotency_key="k")
    )
    assert missing is None
    later = start + timedelta(seconds=1)
    too_old = asyncio.run(
        provider.find_recent(account, since=later, text=text, idempotency_key="k")
    )
    assert too_old is None


# -- the provider and the sandbox agree on length ---------------------------------------

PIECES = st.sampled_from(
    ["a", "é", "👍🏽", "👨‍👩‍👧", " ", "\n", "https://example.com/x", "@bob@example.org"]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(PIECES, min_size=1, max_size=60), repeat=st.integers(1, 12))
def test_validate_and_the_sandbox_agree_on_the_text(parts: list[str], repeat: int) -> None:
    text = "".join(parts) * repeat
    account = AccountCredentials(
        "a", "mastodon", "h", "", Secret("t"), base_url="http://s/mastodon"
    )

    async def accepted() -> bool:
        transport = SandboxTransport(create_app(SandboxState()), timeout=5)
        async with httpx.AsyncClient(transport=transport) as http:
            try:
                await MastodonProvider(http).publish(
                    account, PostContent(text), idempotency_key="k"
                )
            except ContentRejected:
                return False
            return True

    problems = MastodonProvider(None).validate(PostContent(text))  # type: ignore[arg-type]
    refused = any(p.field == "mastodon.text" for p in problems)
    assert asyncio.run(accepted()) is not refused


# -- counting as the instance counts ---------------------------------------------------


@pytest.mark.parametrize(
    ("mention", "counted"),
    [
        ("@first.last@remote.example", "@first.last"),
        ("@anna-lena@social.example.org", "@anna-lena"),
        ("@Ünal_1@Zürich.example", None),  # not a Mastodon username: counted in full
    ],
)
def test_a_remote_mention_counts_its_username_in_validate_and_on_the_instance(
    provider: MastodonProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    mention: str,
    counted: str | None,
) -> None:
    weight = len(counted if counted else mention)
    text = f"{mention} Grüße 🎉 " + "x" * (500 - weight - 9)
    assert provider.capabilities.count_text(text) == 500
    assert provider.validate(PostContent(text), account) == []
    publish(provider, account, PostContent(text), key="fits")
    [problem] = provider.validate(PostContent(text + "y"), account)
    assert (problem.value, problem.limit) == (501, 500)
    with pytest.raises(ContentRejected, match="character limit of 500"):
        publish(provider, account, PostContent(text + "y"), key="over")
    assert [p.text for p in sandbox_state.accepted("mastodon")] == [text]


def test_read_limits_returns_the_instances_configuration(
    provider: MastodonProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.configure("mastodon", max_characters=5000, max_media_attachments=8)
    limits = asyncio.run(provider.read_limits(account))
    assert (limits["max_characters"], limits["max_media_attachments"]) == (5000, 8)
    account.settings["instance"] = limits
    text = "ä" * 5000
    assert provider.validate(PostContent(text), account) == []
    publish(provider, account, PostContent(text))
    assert [p.limit for p in provider.validate(PostContent(text + "ö"), account)] == [5000]
