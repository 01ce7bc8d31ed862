"""SlackProvider against the sandbox: messages, file shares, threads, joining a channel,
token rotation, every ``ok: false`` error class, validation, and odd answers."""

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
from postiz_pipelines.providers.slack import SlackProvider, escape_mrkdwn
from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.slack import slack_channels

TOKEN = "xoxb-1111-2222-secret-bot-token"
CHANNEL = "C0123456789"


@pytest.fixture
def account(sandbox_state: SandboxState, sandbox_url: str) -> AccountCredentials:
    sandbox_state.provision("slack", TOKEN, username="postbot")
    return AccountCredentials(
        account_id="acc_1",
        platform="slack",
        handle="postbot",
        external_id=CHANNEL,
        access_token=Secret(TOKEN),
        base_url=f"{sandbox_url}/slack",
    )


@pytest.fixture
def provider(sandbox_http: httpx.AsyncClient, clock: FixedClock) -> SlackProvider:
    return SlackProvider(
        sandbox_http,
        client_id="1.2",
        client_secret=Secret("app-secret"),
        poll_interval=0,
        clock=clock,
    )


def publish(
    provider: SlackProvider, account: AccountCredentials, content: PostContent
) -> PublishResult:
    return asyncio.run(provider.publish(account, content, idempotency_key="k1"))


def failure(
    provider: SlackProvider,
    account: AccountCredentials,
    content: PostContent,
    kind: type[ProviderError],
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, content)
    error = caught.value
    assert error.platform == "slack"
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    return error


# -- publishing ------------------------------------------------------------------------


def test_capabilities_declare_slacks_rules() -> None:
    caps = SlackProvider.capabilities
    assert (caps.text_limit, caps.media.max_items) == (40_000, 10)
    assert caps.supports_threads and caps.supports_refresh
    assert caps.idempotency is IdempotencyMode.NONE
    assert (
        SlackProvider(None).api_url(AccountCredentials("a", "slack", "h", "C1", Secret("t")))
        == "https://slack.com/api"
    )


def test_a_message_keeps_its_characters_and_gets_a_permalink(
    provider: SlackProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    text = "Q&A at <5pm> -> *join*"
    result = publish(provider, account, PostContent(text))
    [post] = sandbox_state.accepted("slack")
    assert (post.text, post.extra["channel"]) == (text, CHANNEL)
    assert result.remote_id == post.remote_id
    assert (
        result.url
        == f"https://sandbox.slack.com/archives/{CHANNEL}/p{post.remote_id.replace('.', '')}"
    )


def test_files_are_shared_as_one_message_and_the_ts_is_polled(
    provider: SlackProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
    video_file: Callable[..., MediaFile],
) -> None:
    media = (image_file("a.png", alt_text="chart"), video_file())
    result = publish(
        provider, account, PostContent("see <attached>", media=media, thread=("more",))
    )
    first, reply = sandbox_state.accepted("slack")
    assert (first.text, [m.filename for m in first.media]) == (
        "see <attached>",
        ["a.png", "clip.mp4"],
    )
    assert first.media[0].description == "chart"
    assert result.remote_id == first.remote_id
    assert (reply.text, reply.reply_to, result.thread_ids) == (
        "more",
        first.remote_id,
        (reply.remote_id,),
    )
    counts = sandbox_state.request_counts("slack")
    assert counts["POST /api/files.getUploadURLExternal"] == 2
    assert counts["POST /upload/v1/{key}"] == 2
    assert counts["POST /api/files.info"] == 2  # the share shows on the second read


def test_a_thread_uses_thread_ts(
    provider: SlackProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, account, PostContent("1/3", thread=("2/3", "3/3")))
    posts = sandbox_state.accepted("slack")
    assert [p.reply_to for p in posts] == [None, posts[0].remote_id, posts[0].remote_id]
    assert result.thread_ids == (posts[1].remote_id, posts[2].remote_id)


def test_the_bot_joins_a_public_channel_it_is_not_in(
    provider: SlackProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    slack_channels(sandbox_state).remove_bot(CHANNEL)
    publish(provider, account, PostContent("after joining"))
    assert [p.text for p in sandbox_state.accepted("slack")] == ["after joining"]
    assert sandbox_state.request_count("slack", "POST /api/conversations.join") == 1


def test_a_private_channel_cannot_be_joined(
    provider: SlackProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    account.external_id = "G0PRIVATE"
    slack_channels(sandbox_state).remove_bot("G0PRIVATE")
    error = failure(provider, account, PostContent("x"), ContentRejected)
    assert error.code == "not_in_channel"
    assert "method_not_supported_for_channel_type" in error.message


# -- tokens ----------------------------------------------------------------------------


def install(http: httpx.AsyncClient, sandbox_url: str, code: str) -> AccountCredentials:
    """A workspace installed with token rotation, through oauth.v2.access with a code."""
    form = {"code": code, "client_id": "1.2", "client_secret": "app-secret"}
    body = asyncio.run(http.post(f"{sandbox_url}/slack/api/oauth.v2.access", data=form)).json()
    assert body["ok"], body
    return AccountCredentials(
        account_id="acc_2",
        platform="slack",
        handle="rotating",
        external_id=CHANNEL,
        access_token=Secret(body["access_token"]),
        refresh_token=Secret(body["refresh_token"]),
        base_url=f"{sandbox_url}/slack",
    )


def test_an_expired_token_is_refreshed_and_the_old_refresh_token_dies(
    provider: SlackProvider,
    sandbox_http: httpx.AsyncClient,
    sandbox_url: str,
    sandbox_state: SandboxState,
    clock: FixedClock,
) -> None:
    account = install(sandbox_http, sandbox_url, "code-1")
    publish(provider, account, PostContent("morning"))
    clock.advance(12 * 3600)
    with pytest.raises(AuthExpired) as caught:
        publish(provider, account, PostContent("evening"))
    assert caught.value.code == "token_expired"
    tokens = asyncio.run(provider.refresh(account))
    assert tokens.refresh_token is not None and tokens.refresh_token != account.refresh_token
    assert tokens.expires_at == clock.now() + timedelta(hours=12)
    old_refresh = account.refresh_token
    account.access_token, account.refresh_token = tokens.access_token, tokens.refresh_token
    publish(provider, account, PostContent("evening"))
    morning, evening = sandbox_state.accepted("slack")
    assert morning.account_id == evening.account_id
    account.refresh_token = old_refresh
    with pytest.raises(AuthRevoked) as refused:
        asyncio.run(provider.refresh(account))
    assert refused.value.code == "invalid_refresh_token"


def test_refresh_without_a_client_or_a_token_is_auth_revoked(
    sandbox_http: httpx.AsyncClient, account: AccountCredentials
) -> None:
    with pytest.raises(AuthRevoked, match="no refresh token"):
        asyncio.run(SlackProvider(sandbox_http).refresh(account))
    account.refresh_token = Secret("xoxe-1-x")
    with pytest.raises(OAuthClientMisconfigured, match="POSTIZ_SLACK_CLIENT_ID"):
        asyncio.run(SlackProvider(sandbox_http).refresh(account))


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steer", "code"),
    [("revoke", "token_revoked"), ("disable", "account_inactive")],
)
def test_dead_tokens_are_auth_revoked(
    provider: SlackProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    steer: str,
    code: str,
) -> None:
    if steer == "revoke":
        sandbox_state.revoke_token("slack", TOKEN)
    else:
        sandbox_state.set_disabled("slack", TOKEN)
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert (error.status, error.code) == (200, code)


@pytest.mark.parametrize(
    ("steer", "code"),
    [("archive", "is_archived"), ("delete", "channel_not_found")],
)
def test_channel_problems_are_content_rejected(
    provider: SlackProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    steer: str,
    code: str,
) -> None:
    getattr(slack_channels(sandbox_state), steer)(CHANNEL)
    assert failure(provider, account, PostContent("x"), ContentRejected).code == code


def test_too_long_is_content_rejected(provider: SlackProvider, account: AccountCredentials) -> None:
    assert (
        failure(provider, account, PostContent("x" * 40_001), ContentRejected).code
        == "msg_too_long"
    )


def test_an_empty_file_is_media_rejected(
    provider: SlackProvider,
    account: AccountCredentials,
    tmp_path: Path,
    sandbox_state: SandboxState,
) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    error = failure(
        provider,
        account,
        PostContent("x", media=(MediaFile(path, "image/png", "image", 0),)),
        MediaRejected,
    )
    assert error.code == "invalid_arguments"
    assert sandbox_state.accepted("slack") == []


def test_429_carries_retry_after(
    provider: SlackProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("slack", burst_429=1, burst_reset_seconds=17)
    error = failure(provider, account, PostContent("x"), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.status, error.code, error.retry_after) == (429, "ratelimited", 17.0)


def test_internal_and_fatal_errors_are_uncertain(
    provider: SlackProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set(
        "slack", error_rates={500: 1.0}, endpoints={"POST /api/chat.postMessage"}
    )
    error = failure(provider, account, PostContent("x"), OutcomeUnknown)
    assert (error.status, error.code) == (500, "internal_error")


def test_503_is_transient(
    provider: SlackProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("slack", error_rates={503: 1.0})
    error = failure(provider, account, PostContent("x"), TransientError)
    assert type(error) is TransientError
    assert (error.status, error.code) == (503, "service_unavailable")


def test_accept_then_drop_is_outcome_unknown(
    provider: SlackProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("slack", drops=1)
    failure(provider, account, PostContent("maybe"), OutcomeUnknown)
    assert [p.text for p in sandbox_state.accepted("slack")] == ["maybe"]


def test_a_failing_thread_item_after_the_post_is_out_is_not_retried(
    provider: SlackProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.override_rate_limit("slack", "messages", limit=1, per_seconds=60)
    error = failure(provider, account, PostContent("1", thread=("2",)), OutcomeUnknown)
    assert (error.retryable, error.code) == (False, "ratelimited")
    assert "the post is out" in error.message


def test_a_share_that_never_shows_is_uncertain_not_retried(
    sandbox_http: httpx.AsyncClient,
    account: AccountCredentials,
    image_file: Callable[..., MediaFile],
) -> None:
    impatient = SlackProvider(sandbox_http, poll_interval=0, max_polls=1)
    error = failure(impatient, account, PostContent("x", media=(image_file(),)), OutcomeUnknown)
    assert error.retryable is False
    assert "not shared" in error.message


# -- odd answers at the edge -----------------------------------------------------------


def edge(handler: Callable[[httpx.Request], httpx.Response]) -> SlackProvider:
    return SlackProvider(httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def edge_account() -> AccountCredentials:
    return AccountCredentials("acc", "slack", "bot", CHANNEL, Secret(TOKEN))


@pytest.mark.parametrize(
    ("answer", "kind", "status"),
    [
        (httpx.Response(502, html="<html>502</html>"), TransientError, 502),
        (httpx.Response(200, content=b""), OutcomeUnknown, 200),
        (httpx.Response(200, content=b'{"ok": true, '), OutcomeUnknown, 200),
        (httpx.Response(200, json={"ok": True}), OutcomeUnknown, 200),
        (httpx.Response(200, json={"ok": False, "error": "fatal_error"}), OutcomeUnknown, 200),
        (httpx.Response(200, json={"ok": False, "error": "invalid_auth"}), AuthRevoked, 200),
        (httpx.Response(200, json={"ok": False, "error": "something_new"}), ProviderError, 200),
    ],
)
def test_odd_answers_become_provider_errors(
    answer: httpx.Response, kind: type[ProviderError], status: int
) -> None:
    with pytest.raises(ProviderError) as caught:
        asyncio.run(
            edge(lambda r: answer).publish(edge_account(), PostContent("x"), idempotency_key="k")
        )
    assert type(caught.value) is kind
    assert caught.value.status == status


def test_requests_carry_the_bearer_token_and_escaped_text() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("chat.getPermalink"):
            return httpx.Response(200, json={"ok": False, "error": "message_not_found"})
        return httpx.Response(200, json={"ok": True, "channel": CHANNEL, "ts": "1.000001"})

    result = asyncio.run(
        edge(answer).publish(edge_account(), PostContent("a<b"), idempotency_key="k")
    )
    post, permalink = seen
    assert str(post.url) == "https://slack.com/api/chat.postMessage"
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert b"text=a%26lt%3Bb" in post.content
    assert permalink.url.path == "/api/chat.getPermalink"
    assert (result.remote_id, result.url) == ("1.000001", None)  # a missing link is no failure


# -- validation ------------------------------------------------------------------------


def test_escape_mrkdwn() -> None:
    assert escape_mrkdwn("a & b <c> d") == "a &amp; b &lt;c&gt; d"


def test_validate_names_field_value_and_limit(
    image_file: Callable[..., MediaFile], tmp_path: Path
) -> None:
    provider = SlackProvider(None)
    [text] = provider.validate(PostContent("x" * 40_001))
    assert (text.field, text.value, text.limit) == ("slack.text", 40_001, 40_000)
    [count] = provider.validate(PostContent("x", media=(image_file(),) * 11))
    assert (count.field, count.value, count.limit) == ("slack.media", 11, 10)
    doc = MediaFile(tmp_path / "a.txt", "text/plain", "image", 10)
    [kind] = provider.validate(PostContent("x", media=(doc,)))
    assert (kind.field, kind.value) == ("slack.media[0]", "text/plain")
    [thread] = provider.validate(PostContent("ok", thread=("y" * 40_001,)))
    assert thread.field == "slack.thread[1]"
    assert provider.validate(PostContent("x" * 40_000)) == []
