"""LinkedInProvider against the sandbox: member and organization posts, image and video
uploads, token refresh, every error class, validation, and odd answers at the edge."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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
from postiz_pipelines.providers.linkedin import LinkedInProvider, escape_commentary
from postiz_pipelines.sandbox import SandboxState

TOKEN = "li-access-alice-0123456789"
POSTS = "POST /rest/posts"


@pytest.fixture
def account(sandbox_state: SandboxState) -> AccountCredentials:
    member = sandbox_state.provision("linkedin", TOKEN, username="alice")
    return AccountCredentials(
        account_id="acc_1",
        platform="linkedin",
        handle="alice",
        external_id=member.id,
        access_token=Secret(TOKEN),
    )


@pytest.fixture
def provider(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, clock: FixedClock
) -> LinkedInProvider:
    return LinkedInProvider(
        sandbox_http,
        base_url=f"{sandbox_url}/linkedin",
        client_id="app-1",
        client_secret=Secret("app-secret"),
        poll_interval=0,
        clock=clock,
    )


@pytest.fixture
def mp4(tmp_path: Path) -> Callable[[int], MediaFile]:
    """``mp4(size)``: an MP4-looking file of ``size`` bytes (LinkedIn wants 75 KB or more)."""

    def make(size: int) -> MediaFile:
        path = tmp_path / f"clip-{size}.mp4"
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (size - 12))
        return MediaFile(path, "video/mp4", "video", size, 1280, 720, duration_ms=5000)

    return make


def publish(
    provider: LinkedInProvider, account: AccountCredentials, content: PostContent
) -> PublishResult:
    return asyncio.run(provider.publish(account, content, idempotency_key="k1"))


def failure(
    provider: LinkedInProvider,
    account: AccountCredentials,
    content: PostContent,
    kind: type[ProviderError],
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, content)
    error = caught.value
    assert error.platform == "linkedin"
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    return error


# -- publishing ------------------------------------------------------------------------


def test_capabilities_declare_linkedins_rules() -> None:
    caps = LinkedInProvider.capabilities
    assert (caps.text_limit, caps.media.max_items, caps.media.max_videos) == (3000, 20, 1)
    assert caps.supports_refresh and not caps.supports_threads
    assert caps.idempotency is IdempotencyMode.NONE
    assert caps.count_text("👍") == 2  # UTF-16 units
    assert LinkedInProvider.default_base_url == "https://api.linkedin.com"
    assert LinkedInProvider(None).oauth_base_url == "https://www.linkedin.com"


def test_a_member_text_post_keeps_reserved_characters_as_written(
    provider: LinkedInProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    text = "Launch (beta) #news @team [1] <b> *bold* _x_ ~y~ {z} | a\\b"
    result = publish(provider, account, PostContent(text))
    [post] = sandbox_state.accepted("linkedin")
    assert post.text == text
    assert post.extra["author"] == f"urn:li:person:{account.external_id}"
    assert (post.extra["visibility"], post.extra["lifecycleState"]) == ("PUBLIC", "PUBLISHED")
    assert result.remote_id == post.remote_id
    assert result.remote_id.startswith("urn:li:share:")
    assert result.url == f"https://www.linkedin.com/feed/update/{post.remote_id}/"
    assert result.http_status == 201


def test_an_organization_page_post(
    provider: LinkedInProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    account.external_id = "2414183"
    account.settings["author_type"] = "organization"
    publish(provider, account, PostContent("From the company page"))
    [post] = sandbox_state.accepted("linkedin")
    assert post.extra["author"] == "urn:li:organization:2414183"


def test_the_member_id_is_read_from_userinfo_when_missing(
    provider: LinkedInProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    member_id = account.external_id
    account.external_id = ""
    publish(provider, account, PostContent("who am I"))
    assert sandbox_state.accepted("linkedin")[0].extra["author"] == f"urn:li:person:{member_id}"
    assert sandbox_state.request_count("linkedin", "GET /v2/userinfo") == 1


def test_one_image_then_several_images(
    provider: LinkedInProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    publish(provider, account, PostContent("one", media=(image_file("a.png", 60, 40, "alt a"),)))
    media = tuple(image_file(f"{i}.png", 30 + i, 20) for i in range(3))
    publish(provider, account, PostContent("three", media=media))
    one, three = sandbox_state.accepted("linkedin")
    assert [(m.mime_type, m.width, m.height) for m in one.media] == [("image/png", 60, 40)]
    assert one.extra["alt_texts"] == ["alt a"]
    assert [m.width for m in three.media] == [30, 31, 32]
    assert all(m.id.startswith("urn:li:image:") for m in three.media)
    assert sandbox_state.request_count("linkedin", "POST /rest/images") == 4
    assert sandbox_state.request_count("linkedin", "GET /rest/images/{urn}") == 4


def test_a_video_goes_up_in_parts_and_is_polled_until_available(
    provider: LinkedInProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    mp4: Callable[[int], MediaFile],
) -> None:
    video = mp4(5 * 1024 * 1024)  # two 4 MiB parts
    result = publish(provider, account, PostContent("a clip", media=(video,)))
    [post] = sandbox_state.accepted("linkedin")
    assert result.remote_id.startswith("urn:li:ugcPost:")
    assert [(m.mime_type, m.id[:13]) for m in post.media] == [("video/mp4", "urn:li:video:")]
    counts = sandbox_state.request_counts("linkedin")
    assert counts["PUT /dms-uploads/{asset}/uploadedVideo/{part:int}"] == 2
    assert counts["POST /rest/videos"] == 2  # initialize and finalize
    assert counts["GET /rest/videos/{urn}"] == 3  # PROCESSING, PROCESSING, AVAILABLE


def test_a_video_that_never_finishes_is_transient(
    sandbox_http: httpx.AsyncClient,
    sandbox_url: str,
    account: AccountCredentials,
    mp4: Callable[[int], MediaFile],
) -> None:
    impatient = LinkedInProvider(
        sandbox_http, base_url=f"{sandbox_url}/linkedin", poll_interval=0, max_polls=2
    )
    error = failure(impatient, account, PostContent("clip", media=(mp4(80_000),)), TransientError)
    assert "still not available" in error.message


# -- tokens ----------------------------------------------------------------------------


def connect(http: httpx.AsyncClient, sandbox_url: str, code: str) -> AccountCredentials:
    """An account connected through the authorization-code grant, as the app would."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "app-1",
        "client_secret": "app-secret",
        "redirect_uri": "https://app.example/cb",
    }
    response = asyncio.run(http.post(f"{sandbox_url}/linkedin/oauth/v2/accessToken", data=form))
    assert response.status_code == 200
    body = response.json()
    return AccountCredentials(
        account_id="acc_2",
        platform="linkedin",
        handle="bob",
        external_id="",
        access_token=Secret(body["access_token"]),
        refresh_token=Secret(body["refresh_token"]),
    )


def test_an_expired_token_is_refreshed_and_the_post_goes_out(
    provider: LinkedInProvider,
    sandbox_http: httpx.AsyncClient,
    sandbox_url: str,
    sandbox_state: SandboxState,
    clock: FixedClock,
) -> None:
    account = connect(sandbox_http, sandbox_url, "code-bob")
    first = publish(provider, account, PostContent("before"))
    sandbox_state.expire_token("linkedin", account.access_token.reveal())
    with pytest.raises(AuthExpired) as caught:
        publish(provider, account, PostContent("after"))
    assert (caught.value.status, caught.value.code) == (401, "EXPIRED_ACCESS_TOKEN")
    tokens = asyncio.run(provider.refresh(account))
    assert tokens.access_token != account.access_token
    assert tokens.refresh_token == account.refresh_token  # LinkedIn keeps the refresh token
    assert tokens.expires_at == clock.now() + timedelta(days=60)
    account.access_token = tokens.access_token
    second = publish(provider, account, PostContent("after"))
    before, after = sandbox_state.accepted("linkedin")
    assert (before.remote_id, after.remote_id) == (first.remote_id, second.remote_id)
    assert before.account_id == after.account_id  # the same member, through the new token


def test_sixty_days_later_the_issued_token_has_expired(
    provider: LinkedInProvider,
    sandbox_http: httpx.AsyncClient,
    sandbox_url: str,
    clock: FixedClock,
) -> None:
    account = connect(sandbox_http, sandbox_url, "code-carol")
    clock.advance(60 * 86400)
    failure(provider, account, PostContent("late"), AuthExpired)


def test_a_refused_refresh_is_auth_revoked(
    provider: LinkedInProvider, account: AccountCredentials
) -> None:
    account.refresh_token = Secret("never-issued")
    with pytest.raises(AuthRevoked) as caught:
        asyncio.run(provider.refresh(account))
    assert (caught.value.status, caught.value.code) == (400, "invalid_grant")
    assert "never-issued" not in repr(caught.value)
    without_client = LinkedInProvider(provider.http, base_url=provider.base_url)
    with pytest.raises(OAuthClientMisconfigured, match="POSTIZ_LINKEDIN_CLIENT_ID"):
        asyncio.run(without_client.refresh(account))


# -- errors ----------------------------------------------------------------------------


def test_a_revoked_token_is_auth_revoked(
    provider: LinkedInProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.revoke_token("linkedin", TOKEN)
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert (error.status, error.code, error.retryable) == (401, "REVOKED_ACCESS_TOKEN", False)


def test_posting_as_someone_else_is_a_403(
    provider: LinkedInProvider, account: AccountCredentials
) -> None:
    account.external_id = "urn:li:person:somebody-else"
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert (error.status, error.code) == (403, "ACCESS_DENIED")


def test_a_duplicate_is_content_rejected(
    provider: LinkedInProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    first = publish(provider, account, PostContent("same words"))
    error = failure(provider, account, PostContent("same words"), ContentRejected)
    assert (error.status, error.code) == (422, "DUPLICATE_POST")
    assert first.remote_id in error.message
    assert len(sandbox_state.accepted("linkedin")) == 1


def test_too_long_commentary_is_content_rejected(
    provider: LinkedInProvider, account: AccountCredentials
) -> None:
    error = failure(provider, account, PostContent("x" * 3001), ContentRejected)
    assert error.status == 422
    assert "3001" in error.message


def test_a_broken_image_and_a_tiny_video_are_media_rejected(
    provider: LinkedInProvider,
    account: AccountCredentials,
    tmp_path: Path,
    mp4: Callable[[int], MediaFile],
    sandbox_state: SandboxState,
) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"not an image at all")
    broken = MediaFile(path, "image/png", "image", 19)
    error = failure(provider, account, PostContent("x", media=(broken,)), MediaRejected)
    assert error.code == "PROCESSING_FAILED"
    tiny = failure(provider, account, PostContent("x", media=(mp4(2000),)), MediaRejected)
    assert tiny.status == 400
    assert sandbox_state.accepted("linkedin") == []


def test_429_waits_until_midnight_utc(
    provider: LinkedInProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("linkedin", burst_429=1)
    error = failure(provider, account, PostContent("x"), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.status, error.code, error.retry_after) == (429, "TOO_MANY_REQUESTS", 43200.0)


def test_the_daily_post_budget_answers_429(
    provider: LinkedInProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.override_rate_limit("linkedin", "posts", limit=1, per_seconds=86400)
    publish(provider, account, PostContent("first"))
    error = failure(provider, account, PostContent("second"), RateLimited)
    assert "MEMBER DAY" in error.message


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(
    provider: LinkedInProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    status: int,
) -> None:
    sandbox_state.faults.set("linkedin", error_rates={status: 1.0})
    error = failure(provider, account, PostContent("x"), TransientError)
    assert type(error) is TransientError
    assert (error.status, error.retryable) == (status, True)


def test_accept_then_drop_is_outcome_unknown_and_the_post_exists(
    provider: LinkedInProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("linkedin", drops=1, endpoints={POSTS})
    failure(provider, account, PostContent("maybe"), OutcomeUnknown)
    assert [p.text for p in sandbox_state.accepted("linkedin")] == ["maybe"]


# -- odd answers at the edge -----------------------------------------------------------


def edge(handler: Callable[[httpx.Request], httpx.Response]) -> LinkedInProvider:
    return LinkedInProvider(httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def edge_account() -> AccountCredentials:
    return AccountCredentials("acc", "linkedin", "alice", "42", Secret(TOKEN))


@pytest.mark.parametrize(
    ("answer", "kind", "status"),
    [
        (httpx.Response(502, html="<html><h1>502 Bad Gateway</h1></html>"), TransientError, 502),
        (httpx.Response(201, content=b""), OutcomeUnknown, 201),
        (httpx.Response(401, content=b"{not json"), AuthRevoked, 401),
        (httpx.Response(200, json={"unexpected": True}), TransientError, 200),
        (
            httpx.Response(426, json={"status": 426, "code": "NONEXISTENT_VERSION"}),
            ProviderError,
            426,
        ),
    ],
)
def test_odd_answers_become_provider_errors(
    answer: httpx.Response, kind: type[ProviderError], status: int
) -> None:
    provider = edge(lambda request: answer)
    with pytest.raises(ProviderError) as caught:
        asyncio.run(provider.publish(edge_account(), PostContent("x"), idempotency_key="k"))
    assert type(caught.value) is kind
    assert caught.value.status == status


def test_requests_carry_linkedins_headers_and_escaped_commentary() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, headers={"x-restli-id": "urn:li:share:1"})

    result = asyncio.run(
        edge(answer).publish(edge_account(), PostContent("a (b)"), idempotency_key="k")
    )
    [request] = seen
    assert str(request.url) == "https://api.linkedin.com/rest/posts"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["LinkedIn-Version"] == "202610"
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert b'"commentary":"a \\\\(b\\\\)"' in request.content
    assert result.remote_id == "urn:li:share:1"


def test_a_malformed_token_answer_is_transient() -> None:
    provider = LinkedInProvider(
        httpx.AsyncClient(
            transport=httpx.MockTransport(lambda r: httpx.Response(200, text="<html>"))
        ),
        client_id="a",
        client_secret=Secret("b"),
    )
    account = edge_account()
    account.refresh_token = Secret("rt")
    with pytest.raises(TransientError):
        asyncio.run(provider.refresh(account))


# -- validation ------------------------------------------------------------------------


def test_escape_commentary_escapes_every_reserved_character() -> None:
    assert escape_commentary("a|b{c}@d[e]f(g)h<i>j#k*l_m~n\\o") == (
        "a\\|b\\{c\\}\\@d\\[e\\]f\\(g\\)h\\<i\\>j\\#k\\*l\\_m\\~n\\\\o"
    )


def test_validate_names_field_value_and_limit(
    image_file: Callable[..., MediaFile], mp4: Callable[[int], MediaFile], tmp_path: Path
) -> None:
    provider = LinkedInProvider(None)
    emoji_text = "👍" * 1501  # 3002 UTF-16 units
    webp = MediaFile(tmp_path / "x.webp", "image/webp", "image", 100)
    problems = provider.validate(
        PostContent(emoji_text, media=(image_file(), mp4(2000), webp)),
    )
    found = {(p.field, p.value, p.limit) for p in problems}
    assert ("linkedin.text", 3002, 3000) in found
    assert ("linkedin.media[1]", 2000, 75 * 1024) in found
    assert any(p.field == "linkedin.media[2]" and p.value == "image/webp" for p in problems)
    assert any("mixed" in p.message for p in problems)
    too_many = provider.validate(PostContent("x", media=(image_file(),) * 21))
    assert [(p.field, p.value, p.limit) for p in too_many] == [("linkedin.media", 21, 20)]
    assert provider.validate(PostContent("x" * 3000)) == []


# -- little text: hashtags and mentions ------------------------------------------------


@pytest.mark.parametrize(
    ("written", "tags"),
    [
        ("Launch day 🚀 #Python and #Grüße (beta) [v2] a*b_c~", ["Python", "Grüße"]),
        ("#日本 で発表 #AI_2026", ["日本", "AI_2026"]),
        ("no tags: a#b, C#, issue #", []),
    ],
)
def test_commentary_with_hashtags_round_trips_as_hashtags(
    provider: LinkedInProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    written: str,
    tags: list[str],
) -> None:
    publish(provider, account, PostContent(written))
    [post] = sandbox_state.accepted("linkedin")
    assert post.text == written  # readers see exactly what was written
    assert post.extra["hashtags"] == tags  # ...and the tags are LinkedIn hashtags
    assert post.extra["cut_at"] is None


def test_a_mention_in_little_text_syntax_stays_a_mention(
    provider: LinkedInProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    written = "Thanks @[Acme (EU)](urn:li:organization:123) and @bob! #team"
    assert escape_commentary(written) == (
        r"Thanks @[Acme \(EU\)](urn:li:organization:123) and \@bob! {hashtag|\#|team}"
    )
    publish(provider, account, PostContent(written))
    [post] = sandbox_state.accepted("linkedin")
    assert post.text == "Thanks Acme (EU) and @bob! #team"
    assert post.extra["mentions"] == [["Acme (EU)", "urn:li:organization:123"]]
    assert post.extra["hashtags"] == ["team"]
