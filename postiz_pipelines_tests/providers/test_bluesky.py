"""BlueskyProvider against the sandbox: sessions, facets, images, video, threads, the
deterministic record key, every error class, validation, and odd answers (MockTransport)."""

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
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    TransientError,
)
from postiz_pipelines.providers.atproto import facet_slices, record_key_for, tid_time
from postiz_pipelines.providers.base import (
    AccountCredentials,
    IdempotencyMode,
    MediaFile,
    PostContent,
    PublishResult,
)
from postiz_pipelines.providers.bluesky import BlueskyProvider
from postiz_pipelines.providers.registry import provider_class, validator
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app
from postiz_pipelines.sandbox.bluesky_identity import did_for

APP_PASSWORD = "abcd-efgh-ijkl-mnop"
HANDLE = "alice.bsky.social"
CREATE = "POST /xrpc/com.atproto.repo.createRecord"
GET_RECORD = "GET /xrpc/com.atproto.repo.getRecord"
JOB_STATUS = "GET /video/xrpc/app.bsky.video.getJobStatus"


@pytest.fixture
def provider(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, clock: FixedClock
) -> BlueskyProvider:
    return BlueskyProvider(
        sandbox_http, base_url=f"{sandbox_url}/bluesky", poll_interval=0, clock=clock
    )


@pytest.fixture
def account(provider: BlueskyProvider, sandbox_state: SandboxState) -> AccountCredentials:
    sandbox_state.provision("bluesky", APP_PASSWORD, username=HANDLE)
    session = asyncio.run(provider.login(HANDLE, APP_PASSWORD))
    return AccountCredentials(
        account_id="acc_1",
        platform="bluesky",
        handle=session.handle,
        external_id=session.did,
        access_token=session.tokens.access_token,
        refresh_token=session.tokens.refresh_token,
        token_expires_at=session.tokens.expires_at,
        base_url=session.pds_url,
    )


def publish(
    provider: BlueskyProvider, account: AccountCredentials, content: PostContent, key: str = "k1"
) -> PublishResult:
    return asyncio.run(provider.publish(account, content, idempotency_key=key))


def secrets_of(account: AccountCredentials) -> list[str]:
    tokens = [account.access_token, account.refresh_token, APP_PASSWORD]
    return [str(t) for t in tokens if t]


def failure(
    provider: BlueskyProvider,
    account: AccountCredentials,
    content: PostContent,
    kind: type[ProviderError],
    key: str = "k1",
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, content, key)
    error = caught.value
    assert error.platform == "bluesky"
    for secret in secrets_of(account):
        assert secret not in str(error) and secret not in repr(error)
    return error


# -- sessions --------------------------------------------------------------------------


def test_capabilities_declare_blueskys_rules() -> None:
    caps = BlueskyProvider.capabilities
    assert (caps.text_limit, caps.text_unit, caps.media.max_items) == (300, "graphemes", 4)
    assert caps.supports_threads and caps.supports_refresh
    assert caps.idempotency is IdempotencyMode.DETERMINISTIC_ID
    assert caps.media.max_image_bytes == 2_000_000
    assert caps.media.video_types == frozenset({"video/mp4"})
    assert caps.count_text("👨‍👩‍👧" * 3) == 3
    assert provider_class("bluesky") is BlueskyProvider
    assert validator("bluesky").validate(PostContent("x" * 301))


def test_the_video_service_sits_beside_the_pds() -> None:
    assert BlueskyProvider(None).video_base_url == "https://video.bsky.app"
    sandboxed = BlueskyProvider(None, base_url="http://s/bluesky/")
    assert sandboxed.video_base_url == "http://s/bluesky/video"
    explicit = BlueskyProvider(None, base_url="http://s/bluesky", video_base_url="http://v/")
    assert explicit.video_base_url == "http://v"


def test_login_opens_a_two_hour_session(
    account: AccountCredentials, sandbox_url: str, clock: FixedClock
) -> None:
    assert (account.handle, account.external_id) == (HANDLE, did_for(HANDLE))
    assert account.base_url == f"{sandbox_url}/bluesky"
    assert account.token_expires_at == clock.now() + timedelta(hours=2)
    assert account.access_token.count(".") == 2 and account.refresh_token is not None


def test_login_with_a_wrong_password_is_auth_revoked(
    provider: BlueskyProvider, sandbox_state: SandboxState
) -> None:
    sandbox_state.provision("bluesky", APP_PASSWORD, username=HANDLE)
    with pytest.raises(AuthRevoked) as caught:
        asyncio.run(provider.login("bob.bsky.social", APP_PASSWORD))
    assert (caught.value.status, caught.value.code) == (401, "AuthenticationRequired")
    assert APP_PASSWORD not in repr(caught.value)


# -- publishing ------------------------------------------------------------------------


def test_a_text_post_is_created_at_the_keys_record_key(
    provider: BlueskyProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
) -> None:
    key = "post_1:20261128T120000Z:acc_1"
    result = publish(provider, account, PostContent("Hello sky", settings={"language": "en"}), key)
    [post] = sandbox_state.accepted("bluesky")
    rkey = record_key_for(key)
    assert (
        result.remote_id
        == post.remote_id
        == f"at://{account.external_id}/app.bsky.feed.post/{rkey}"
    )
    assert result.url == f"https://bsky.app/profile/{account.external_id}/post/{rkey}"
    assert (post.text, post.handle, post.idempotency_key) == ("Hello sky", HANDLE, rkey)
    assert post.extra["record"]["createdAt"] == "2026-11-28T12:00:00.000Z"
    assert post.extra["langs"] == ["en"]
    assert tid_time(rkey).replace(microsecond=0) == clock.now()


def test_links_and_mentions_get_facets_by_utf8_byte_offsets(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.provision("bluesky", "tok-bob", username="bob")
    text = (
        "👋 see https://example.com/a?b=1 with @bob.bsky.social and @carol.invalid "
        "and @dave.bsky.social #Grüße!"
    )
    publish(provider, account, PostContent(text))
    [post] = sandbox_state.accepted("bluesky")
    facets = post.extra["facets"]
    assert facets[0]["index"] == {"byteStart": 9, "byteEnd": 34}  # the emoji is 4 bytes
    assert list(facet_slices(text, facets)) == [
        (
            "https://example.com/a?b=1",
            {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/a?b=1"},
        ),
        (
            "@bob.bsky.social",
            {"$type": "app.bsky.richtext.facet#mention", "did": did_for("bob.bsky.social")},
        ),
        ("#Grüße", {"$type": "app.bsky.richtext.facet#tag", "tag": "Grüße"}),
    ]  # @carol.invalid and @dave.bsky.social (no such account) do not resolve: plain text


def test_two_images_with_alt_text_and_aspect_ratios(
    provider: BlueskyProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    media = (image_file("a.png", 64, 48, "first"), image_file("b.png", 30, 90))
    publish(provider, account, PostContent("two pictures", media=media))
    [post] = sandbox_state.accepted("bluesky")
    assert [(m.mime_type, m.width, m.height) for m in post.media] == [
        ("image/png", 64, 48),
        ("image/png", 30, 90),
    ]
    images = post.extra["record"]["embed"]["images"]
    assert [i["alt"] for i in images] == ["first", ""]
    assert images[1]["aspectRatio"] == {"width": 30, "height": 90}
    assert sandbox_state.request_count("bluesky", "POST /xrpc/com.atproto.repo.uploadBlob") == 2


def test_a_video_goes_through_the_video_service(
    provider: BlueskyProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    video_file: Callable[..., MediaFile],
) -> None:
    clip = replace(video_file(), alt_text="a clip")
    publish(provider, account, PostContent("watch", media=(clip,)))
    [post] = sandbox_state.accepted("bluesky")
    embed = post.extra["record"]["embed"]
    assert (embed["$type"], embed["alt"]) == ("app.bsky.embed.video", "a clip")
    assert embed["aspectRatio"] == {"width": 1280, "height": 720}
    assert [m.mime_type for m in post.media] == ["video/mp4"]
    counts = sandbox_state.request_counts("bluesky")
    assert counts["GET /xrpc/com.atproto.server.getServiceAuth"] == 1
    assert counts["POST /video/xrpc/app.bsky.video.uploadVideo"] == 1
    assert counts[JOB_STATUS] == 3  # encoding, scanning, completed


def test_the_same_video_again_is_already_processed(
    provider: BlueskyProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    video_file: Callable[..., MediaFile],
) -> None:
    clip = video_file()
    publish(provider, account, PostContent("once", media=(clip,)), key="a")
    publish(provider, account, PostContent("twice", media=(clip,)), key="b")
    first, second = sandbox_state.accepted("bluesky")
    assert first.media[0].id == second.media[0].id
    assert sandbox_state.request_count("bluesky", JOB_STATUS) == 4  # 3, then 1 for the 409


def test_a_video_that_fails_processing_is_media_rejected(
    provider: BlueskyProvider, account: AccountCredentials, tmp_path: Path
) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"not a video at all" * 10)
    broken = MediaFile(path=path, mime_type="video/mp4", kind="video", size_bytes=180)
    error = failure(provider, account, PostContent("x", media=(broken,)), MediaRejected)
    assert error.message == "bluesky: Failed to process video"
    assert error.code is not None and error.code.startswith("video processing error")


def test_a_video_that_never_finishes_is_transient(
    sandbox_http: httpx.AsyncClient,
    sandbox_url: str,
    account: AccountCredentials,
    video_file: Callable[..., MediaFile],
    clock: FixedClock,
) -> None:
    # the sandbox's clock, or the service-auth expiry is judged against another "now"
    impatient = BlueskyProvider(
        sandbox_http, base_url=f"{sandbox_url}/bluesky", poll_interval=0, max_polls=1, clock=clock
    )
    error = failure(impatient, account, PostContent("x", media=(video_file(),)), TransientError)
    assert "still processing" in error.message


def test_a_three_item_thread_replies_with_root_and_parent(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, account, PostContent("1/3", thread=("2/3", "3/3")), key="t")
    posts = sandbox_state.accepted("bluesky")
    assert [p.text for p in posts] == ["1/3", "2/3", "3/3"]
    uris = [p.remote_id for p in posts]
    assert [p.reply_to for p in posts] == [None, uris[0], uris[1]]
    assert [p.extra["root"] for p in posts] == [None, uris[0], uris[0]]
    assert posts[2].extra["record"]["reply"]["parent"]["cid"] == posts[1].extra["cid"]
    assert [p.idempotency_key for p in posts] == [
        record_key_for("t"),
        record_key_for("t:1"),
        record_key_for("t:2"),
    ]
    assert (result.remote_id, result.thread_ids) == (uris[0], (uris[1], uris[2]))


# -- sessions expire and refresh -------------------------------------------------------


def test_an_expired_token_is_refreshed_and_the_post_then_succeeds(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.expire_token("bluesky", account.access_token)
    error = failure(provider, account, PostContent("after refresh"), AuthExpired)
    assert (error.status, error.code, error.retryable) == (400, "ExpiredToken", True)
    old_refresh = account.refresh_token
    tokens = asyncio.run(provider.refresh(account))
    assert tokens.refresh_token is not None and tokens.refresh_token != old_refresh
    account.access_token, account.refresh_token = tokens.access_token, tokens.refresh_token
    publish(provider, account, PostContent("after refresh"))
    [post] = sandbox_state.accepted("bluesky")
    assert (post.text, post.handle) == ("after refresh", HANDLE)
    # Refresh JWTs rotate: the one used is revoked.
    stale = replace(account, refresh_token=old_refresh)
    with pytest.raises(AuthRevoked) as caught:
        asyncio.run(provider.refresh(stale))
    assert (caught.value.code, caught.value.status) == ("ExpiredToken", 400)
    assert "connect the account again" in caught.value.message


def test_the_access_token_runs_out_after_two_hours(
    provider: BlueskyProvider, account: AccountCredentials, clock: FixedClock
) -> None:
    clock.advance(2 * 3600)
    assert failure(provider, account, PostContent("late"), AuthExpired).code == "ExpiredToken"


def test_without_a_refresh_token_refresh_is_auth_revoked(
    provider: BlueskyProvider, account: AccountCredentials
) -> None:
    with pytest.raises(AuthRevoked, match="no refresh token"):
        asyncio.run(provider.refresh(replace(account, refresh_token=None)))


# -- errors ----------------------------------------------------------------------------


def test_a_taken_down_account_is_auth_revoked(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.set_disabled("bluesky", APP_PASSWORD)
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert (error.status, error.code) == (401, "AccountTakedown")
    with pytest.raises(AuthRevoked):
        asyncio.run(provider.refresh(account))


def test_text_over_300_graphemes_is_content_rejected(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    error = failure(provider, account, PostContent("é" * 301), ContentRejected)
    assert (error.status, error.code) == (400, "InvalidRequest")
    assert "must not be longer than 300 graphemes" in error.message
    assert sandbox_state.accepted("bluesky") == []


def test_a_broken_image_is_media_rejected(
    provider: BlueskyProvider, account: AccountCredentials, tmp_path: Path
) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"this is not an image")
    broken = MediaFile(path=path, mime_type="image/png", kind="image", size_bytes=20)
    error = failure(provider, account, PostContent("x", media=(broken,)), MediaRejected)
    assert "application/octet-stream but must match image/*" in error.message


def test_an_image_over_two_megabytes_is_media_rejected(
    provider: BlueskyProvider,
    account: AccountCredentials,
    image_file: Callable[..., MediaFile],
) -> None:
    image = image_file()
    with image.path.open("ab") as fh:  # PNG readers stop at IEND; the size is what counts
        fh.write(b"\x00" * 2_000_000)
    big = replace(image, size_bytes=image.path.stat().st_size)
    error = failure(provider, account, PostContent("x", media=(big,)), MediaRejected)
    assert "file is too big (max 2000000 bytes)" in error.message


def test_a_missing_media_file_is_media_rejected_without_a_request(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    before = sandbox_state.request_counts("bluesky")
    gone = MediaFile(
        path=Path("/nonexistent/x.png"), mime_type="image/png", kind="image", size_bytes=1
    )
    error = failure(provider, account, PostContent("x", media=(gone,)), MediaRejected)
    assert "x.png" in error.message
    assert sandbox_state.request_counts("bluesky") == before


def test_publishing_twice_with_one_key_makes_one_post(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    first = publish(provider, account, PostContent("only once", thread=("reply",)), key="same")
    again = publish(provider, account, PostContent("only once", thread=("reply",)), key="same")
    assert again == first
    assert [p.text for p in sandbox_state.accepted("bluesky")] == ["only once", "reply"]
    assert sandbox_state.request_count("bluesky", GET_RECORD) == 2


def test_a_record_key_holding_another_post_is_content_rejected(
    provider: BlueskyProvider, account: AccountCredentials
) -> None:
    publish(provider, account, PostContent("the first text"), key="k")
    error = failure(provider, account, PostContent("a different text"), ContentRejected, key="k")
    assert error.code == "RecordAlreadyExists"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(
    provider: BlueskyProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    status: int,
) -> None:
    sandbox_state.faults.set("bluesky", error_rates={status: 1.0})
    error = failure(provider, account, PostContent("x"), TransientError)
    assert type(error) is TransientError
    assert (error.status, error.retryable) == (status, True)


def test_a_500_after_the_record_was_written_finds_the_record(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    first = publish(provider, account, PostContent("written"), key="k")
    # Before RecordAlreadyExists existed the PDS answered a repeated rkey with a 500.
    sandbox_state.faults.set("bluesky", error_rates={500: 1.0}, endpoints={CREATE})
    assert publish(provider, account, PostContent("written"), key="k") == first
    assert len(sandbox_state.accepted("bluesky")) == 1


def test_429_burst_gives_retry_after_from_the_reset_header(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("bluesky", burst_429=1, burst_reset_seconds=42)
    error = failure(provider, account, PostContent("x"), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.status, error.code, error.retry_after) == (429, "RateLimitExceeded", 42.0)


def test_429_from_the_write_points_waits_for_the_hour(
    provider: BlueskyProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
) -> None:
    sandbox_state.override_rate_limit("bluesky", "write:0", limit=3, per_seconds=3600)
    publish(provider, account, PostContent("first"), key="a")  # a create costs 3 points
    clock.advance(600)
    error = failure(provider, account, PostContent("second"), RateLimited, key="b")
    assert isinstance(error, RateLimited) and error.retry_after == 3000.0


def test_accept_then_drop_is_outcome_unknown_and_the_retry_adopts_the_record(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("bluesky", drops=1)
    content = PostContent("only once", thread=("and its reply",))
    failure(provider, account, content, OutcomeUnknown)
    assert [p.text for p in sandbox_state.accepted("bluesky")] == ["only once"]
    result = publish(provider, account, content)
    posts = sandbox_state.accepted("bluesky")
    assert [p.text for p in posts] == ["only once", "and its reply"]
    assert result.remote_id == posts[0].remote_id
    assert posts[1].extra["root"] == posts[0].remote_id
    assert sandbox_state.request_count("bluesky", CREATE) == 3
    assert sandbox_state.request_count("bluesky", GET_RECORD) == 1


def test_a_timeout_is_outcome_unknown(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("bluesky", timeouts=1, endpoints={CREATE})
    error = failure(provider, account, PostContent("x"), OutcomeUnknown)
    assert error.retryable
    assert sandbox_state.accepted("bluesky") == []


def test_find_recent_reads_the_record_at_the_keys_record_key(
    provider: BlueskyProvider, account: AccountCredentials, clock: FixedClock
) -> None:
    result = publish(provider, account, PostContent("Line one\n\nline two"), key="job-1")

    def find(text: str, key: str) -> Any:
        return asyncio.run(
            provider.find_recent(account, since=clock.now(), text=text, idempotency_key=key)
        )

    found = find("Line one line two", "job-1")
    assert found is not None
    assert (found.remote_id, found.url, found.created_at) == (
        result.remote_id,
        result.url,
        clock.now(),
    )
    assert find("Line one line two", "job-2") is None
    assert find("something else", "job-1") is None


# -- validation ------------------------------------------------------------------------


def problems_of(content: PostContent) -> dict[str, tuple[Any, Any]]:
    return {p.field: (p.value, p.limit) for p in BlueskyProvider(None).validate(content)}


def test_validate_counts_graphemes_and_bytes(image_file: Callable[..., MediaFile]) -> None:
    assert problems_of(PostContent("👨‍👩‍👧" * 150)) == {}
    assert problems_of(PostContent("x" * 301)) == {"bluesky.text": (301, 300)}
    heavy = "👨‍👩‍👧" * 200  # 200 graphemes, 18 bytes each
    assert problems_of(PostContent("ok", thread=(heavy,))) == {"bluesky.thread[1]": (3600, 3000)}
    four = problems_of(PostContent("x", settings={"langs": ["en", "de", "fr", "ja"]}))
    assert four == {"bluesky.langs": (4, 3)}


def test_validate_names_media_problems(
    image_file: Callable[..., MediaFile], video_file: Callable[..., MediaFile]
) -> None:
    images = tuple(image_file(f"{i}.png") for i in range(5))
    assert problems_of(PostContent("x", media=images))["bluesky.media"] == (5, 4)
    bmp = replace(image_file(), mime_type="image/bmp")
    assert problems_of(PostContent("x", media=(bmp,)))["bluesky.media[0]"][0] == "image/bmp"
    mixed = BlueskyProvider(None).validate(PostContent("x", media=(image_file(), video_file())))
    assert any("cannot be mixed" in p.message for p in mixed)
    long_clip = replace(video_file(), duration_ms=181_000)
    assert problems_of(PostContent("x", media=(long_clip,)))["bluesky.media[0]"] == (181, 180)


PIECES = st.sampled_from(
    ["a", "é", "👍🏽", "👨‍👩‍👧", " ", "\n", "https://example.com/x", "@bob.test"]
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(PIECES, min_size=1, max_size=40), repeat=st.integers(1, 12))
def test_validate_and_the_sandbox_agree_on_the_limit(parts: list[str], repeat: int) -> None:
    text = "".join(parts) * repeat
    state = SandboxState()
    http = httpx.AsyncClient(transport=SandboxTransport(create_app(state), timeout=5))
    provider = BlueskyProvider(http, base_url="http://s/bluesky", poll_interval=0)
    account = AccountCredentials("a", "bluesky", "h", "", Secret("raw-token"))
    problems = provider.validate(PostContent(text))
    refused = any(p.field == "bluesky.text" and p.limit == 300 for p in problems)
    try:
        asyncio.run(provider.publish(account, PostContent(text), idempotency_key="k"))
        accepted = True
    except ContentRejected:
        accepted = False
    assert accepted == (not refused)


# -- odd answers at the edge -----------------------------------------------------------


def edge_account() -> AccountCredentials:
    return AccountCredentials(
        "acc_1", "bluesky", HANDLE, "did:plc:abc", Secret("tok"), base_url="https://pds.example"
    )


@pytest.mark.parametrize(
    ("answer", "kind", "status"),
    [
        (httpx.Response(502, html="<html><h1>502 Bad Gateway</h1></html>"), TransientError, 502),
        (httpx.Response(200, content=b""), OutcomeUnknown, 200),
        (httpx.Response(200, content=b'{"uri": "at://x", '), OutcomeUnknown, 200),
        (httpx.Response(200, html="<html>maintenance</html>"), OutcomeUnknown, 200),
        (httpx.Response(400, html="<html>bad</html>"), ContentRejected, 400),
        (httpx.Response(418, content=b""), ProviderError, 418),
    ],
)
def test_odd_answers_to_a_create_become_provider_errors(
    answer: httpx.Response, kind: type[ProviderError], status: int
) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: answer))
    provider = BlueskyProvider(http)
    with pytest.raises(ProviderError) as caught:
        asyncio.run(provider.publish(edge_account(), PostContent("x"), idempotency_key="k"))
    assert type(caught.value) is kind
    assert caught.value.status == status
    assert "tok" not in repr(caught.value)


def test_an_unreadable_blob_answer_is_transient(image_file: Callable[..., MediaFile]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html>oops</html>")

    provider = BlueskyProvider(httpx.AsyncClient(transport=httpx.MockTransport(answer)))
    content = PostContent("x", media=(image_file(),))
    with pytest.raises(TransientError) as caught:
        asyncio.run(provider.publish(edge_account(), content, idempotency_key="k"))
    assert type(caught.value) is TransientError
    assert "text/html" in caught.value.message
