"""DiscordProvider against the sandbox: bot messages with files and reply threads, the
nonce that makes a retry safe, webhook targets, every error class, validation, and odd
answers at the edge."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
import pytest

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
from postiz_pipelines.providers.discord import DiscordProvider, nonce_for
from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.discord import discord_channels

TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.bot-token-secret"
HOOK_TOKEN = "webhook-token-secret-xyz"
CHANNEL = "1098765432109876543"
MESSAGES = "POST /api/v10/channels/{channel_id}/messages"


@pytest.fixture
def account(sandbox_state: SandboxState, sandbox_url: str) -> AccountCredentials:
    sandbox_state.provision("discord", TOKEN, username="postbot")
    return AccountCredentials(
        account_id="acc_1",
        platform="discord",
        handle="postbot",
        external_id=CHANNEL,
        access_token=Secret(TOKEN),
        base_url=f"{sandbox_url}/discord",
        settings={"guild_id": "555"},
    )


@pytest.fixture
def webhook(sandbox_url: str) -> AccountCredentials:
    return AccountCredentials(
        account_id="acc_2",
        platform="discord",
        handle="announcements",
        external_id="1111",
        access_token=Secret(HOOK_TOKEN),
        base_url=f"{sandbox_url}/discord",
        settings={"target": "webhook"},
    )


@pytest.fixture
def provider(sandbox_http: httpx.AsyncClient) -> DiscordProvider:
    return DiscordProvider(sandbox_http)


def publish(
    provider: DiscordProvider, account: AccountCredentials, content: PostContent, key: str = "k1"
) -> PublishResult:
    return asyncio.run(provider.publish(account, content, idempotency_key=key))


def failure(
    provider: DiscordProvider,
    account: AccountCredentials,
    content: PostContent,
    kind: type[ProviderError],
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, content)
    error = caught.value
    assert error.platform == "discord"
    for secret in (TOKEN, HOOK_TOKEN):
        assert secret not in str(error) and secret not in repr(error)
    return error


# -- publishing ------------------------------------------------------------------------


def test_capabilities_declare_discords_rules() -> None:
    caps = DiscordProvider.capabilities
    assert (caps.text_limit, caps.media.max_items) == (2000, 10)
    assert caps.idempotency is IdempotencyMode.NATIVE_KEY
    assert caps.supports_threads and not caps.supports_refresh


def test_nonce_is_short_and_deterministic() -> None:
    assert nonce_for("job-1") == nonce_for("job-1") != nonce_for("job-2")
    assert len(nonce_for("x" * 500)) == 25


def test_a_bot_message(
    provider: DiscordProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, account, PostContent("Hello **guild**"), key="job-1")
    [post] = sandbox_state.accepted("discord")
    assert (post.text, post.extra["channel_id"], post.extra["nonce"]) == (
        "Hello **guild**",
        CHANNEL,
        nonce_for("job-1"),
    )
    assert result.remote_id == post.remote_id
    assert result.url == f"https://discord.com/channels/555/{CHANNEL}/{post.remote_id}"


def test_images_and_a_video_in_one_message(
    provider: DiscordProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
    video_file: Callable[..., MediaFile],
) -> None:
    media = (image_file("a.png", alt_text="first"), image_file("b.png"), video_file())
    publish(provider, account, PostContent("files", media=media))
    [post] = sandbox_state.accepted("discord")
    assert [(m.filename, m.mime_type, m.description) for m in post.media] == [
        ("a.png", "image/png", "first"),
        ("b.png", "image/png", ""),
        ("clip.mp4", "video/mp4", ""),
    ]


def test_a_thread_replies_in_order(
    provider: DiscordProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, account, PostContent("1/3", thread=("2/3", "3/3")), key="t")
    posts = sandbox_state.accepted("discord")
    assert [p.reply_to for p in posts] == [None, posts[0].remote_id, posts[1].remote_id]
    assert [p.extra["nonce"] for p in posts] == [nonce_for("t"), nonce_for("t:1"), nonce_for("t:2")]
    assert result.thread_ids == (posts[1].remote_id, posts[2].remote_id)


def test_accept_then_drop_then_retry_posts_once_thanks_to_the_nonce(
    provider: DiscordProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("discord", drops=1)
    content = PostContent("only once", thread=("and its reply",))
    error = failure(provider, account, content, OutcomeUnknown)
    assert error.retryable
    result = publish(provider, account, content)
    posts = sandbox_state.accepted("discord")
    assert [p.text for p in posts] == ["only once", "and its reply"]
    assert result.remote_id == posts[0].remote_id
    assert sandbox_state.request_count("discord", MESSAGES) == 3


def test_a_webhook_message_with_wait(
    provider: DiscordProvider, webhook: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, webhook, PostContent("via webhook", thread=("more",)))
    first, second = sandbox_state.accepted("discord")
    assert (first.text, first.extra["webhook_id"], first.reply_to) == ("via webhook", "1111", None)
    assert second.reply_to is None  # webhooks cannot reply
    assert result.thread_ids == (second.remote_id,)
    assert "nonce" not in first.extra


def test_a_webhook_given_as_its_url(
    provider: DiscordProvider,
    webhook: AccountCredentials,
    sandbox_state: SandboxState,
    caplog: pytest.LogCaptureFixture,
) -> None:
    webhook.external_id = ""
    webhook.access_token = Secret(f"https://discord.com/api/webhooks/2222/{HOOK_TOKEN}")
    with caplog.at_level(logging.INFO, logger="httpx"):
        publish(provider, webhook, PostContent("from a pasted URL"))
    assert sandbox_state.accepted("discord")[0].extra["webhook_id"] == "2222"
    assert "/webhooks/2222/<hidden>" in caplog.text
    assert HOOK_TOKEN not in caplog.text


def test_a_dropped_webhook_call_is_not_retried(
    provider: DiscordProvider, webhook: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("discord", drops=1)
    error = failure(provider, webhook, PostContent("x"), OutcomeUnknown)
    assert error.retryable is False
    assert "no nonce" in error.message


# -- errors ----------------------------------------------------------------------------


def test_a_revoked_bot_token_is_auth_revoked(
    provider: DiscordProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.revoke_token("discord", TOKEN)
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert (error.status, error.code) == (401, "0")


def test_a_deleted_webhook_is_auth_revoked(
    provider: DiscordProvider, webhook: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.revoke_token("discord", HOOK_TOKEN)
    error = failure(provider, webhook, PostContent("x"), AuthRevoked)
    assert (error.status, error.code) == (404, "10015")


@pytest.mark.parametrize(
    ("control", "status", "code"), [("deny_access", 403, "50001"), ("deny_sending", 403, "50013")]
)
def test_missing_access_or_permissions_is_auth_revoked(
    provider: DiscordProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    control: str,
    status: int,
    code: str,
) -> None:
    getattr(discord_channels(sandbox_state), control)(CHANNEL)
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert (error.status, error.code) == (status, code)


def test_unknown_channel_and_too_long_are_content_rejected(
    provider: DiscordProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    too_long = failure(provider, account, PostContent("x" * 2001), ContentRejected)
    assert (too_long.status, too_long.code) == (400, "50035")
    assert "content: Must be 2000 or fewer in length." in too_long.message
    discord_channels(sandbox_state).delete(CHANNEL)
    unknown = failure(provider, account, PostContent("x"), ContentRejected)
    assert (unknown.status, unknown.code, unknown.message) == (
        404,
        "10003",
        "discord: Unknown Channel",
    )


def test_an_oversized_file_is_media_rejected(
    provider: DiscordProvider, account: AccountCredentials, tmp_path: pytest.TempPathFactory
) -> None:
    path = tmp_path / "big.png"  # type: ignore[operator]
    path.write_bytes(b"\x89PNG" + b"\x00" * (10 * 1024 * 1024))
    big = MediaFile(path, "image/png", "image", path.stat().st_size)
    error = failure(provider, account, PostContent("x", media=(big,)), MediaRejected)
    assert (error.status, error.code) == (413, "40005")


def test_429_uses_the_float_retry_after_of_the_body(
    provider: DiscordProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("discord", burst_429=1, burst_reset_seconds=2.5)
    error = failure(provider, account, PostContent("x"), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.status, error.retry_after) == (429, 2.5)


def test_slowmode_is_rate_limited_with_code_20016(
    provider: DiscordProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    discord_channels(sandbox_state).slowmode(CHANNEL, 30)
    publish(provider, account, PostContent("first"), key="a")
    with pytest.raises(RateLimited) as caught:
        publish(provider, account, PostContent("second"), key="b")
    assert (caught.value.code, caught.value.retry_after) == ("20016", 30.0)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(
    provider: DiscordProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    status: int,
) -> None:
    sandbox_state.faults.set("discord", error_rates={status: 1.0})
    error = failure(provider, account, PostContent("x"), TransientError)
    assert type(error) is TransientError
    assert error.status == status


# -- odd answers at the edge -----------------------------------------------------------


def edge(handler: Callable[[httpx.Request], httpx.Response]) -> DiscordProvider:
    return DiscordProvider(httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def edge_account(**settings: str) -> AccountCredentials:
    return AccountCredentials(
        "acc", "discord", "bot", CHANNEL, Secret(TOKEN), settings=dict(settings)
    )


@pytest.mark.parametrize(
    ("answer", "kind", "status"),
    [
        (httpx.Response(502, html="<html>cloudflare</html>"), TransientError, 502),
        (httpx.Response(200, content=b""), OutcomeUnknown, 200),
        (httpx.Response(200, content=b'{"id": "1"'), OutcomeUnknown, 200),
        (httpx.Response(429, content=b"<html>", headers={"Retry-After": "3"}), RateLimited, 429),
        (httpx.Response(204), TransientError, 204),
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
    if kind is RateLimited:
        assert caught.value.retry_after == 3.0  # type: ignore[attr-defined]


def test_requests_carry_the_bot_header_nonce_and_webhook_wait() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "42", "channel_id": CHANNEL})

    provider = edge(answer)
    asyncio.run(provider.publish(edge_account(), PostContent("x"), idempotency_key="job-9"))
    hook = edge_account(target="webhook")
    hook.external_id, hook.access_token = "77", Secret(HOOK_TOKEN)
    asyncio.run(provider.publish(hook, PostContent("y"), idempotency_key="job-9"))
    bot_request, hook_request = seen
    assert str(bot_request.url) == f"https://discord.com/api/v10/channels/{CHANNEL}/messages"
    assert bot_request.headers["Authorization"] == f"Bot {TOKEN}"
    assert f'"nonce":"{nonce_for("job-9")}"'.encode() in bot_request.content
    assert b'"enforce_nonce":true' in bot_request.content
    assert (
        str(hook_request.url) == f"https://discord.com/api/v10/webhooks/77/{HOOK_TOKEN}?wait=true"
    )
    assert "authorization" not in hook_request.headers
    assert b"nonce" not in hook_request.content


# -- validation ------------------------------------------------------------------------


def test_validate_names_field_value_and_limit(
    image_file: Callable[..., MediaFile], tmp_path: pytest.TempPathFactory
) -> None:
    provider = DiscordProvider(None)
    [text] = provider.validate(PostContent("x" * 2001))
    assert (text.field, text.value, text.limit) == ("discord.text", 2001, 2000)
    [count] = provider.validate(PostContent("x", media=(image_file(),) * 11))
    assert (count.field, count.value, count.limit) == ("discord.media", 11, 10)
    pdf = MediaFile(tmp_path / "a.pdf", "application/pdf", "image", 10)  # type: ignore[operator]
    [kind] = provider.validate(PostContent("x", media=(pdf,)))
    assert (kind.field, kind.value) == ("discord.media[0]", "application/pdf")
    huge = MediaFile(tmp_path / "h.png", "image/png", "image", 11 * 1024 * 1024)  # type: ignore[operator]
    [size] = provider.validate(PostContent("x", media=(huge,)))
    assert size.limit == 10 * 1024 * 1024
    assert provider.validate(PostContent("x" * 2000, thread=("y",))) == []
