"""TelegramProvider against the sandbox: messages, photos, videos, albums, reply threads, a
group's migration to a supergroup, every error class, validation, and odd answers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

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
)
from postiz_pipelines.providers.telegram import TelegramProvider, TelegramPublishResult
from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.telegram import telegram_chats

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHANNEL = "-1001234567890"
SEND = "POST /bot{token}/sendMessage"


@pytest.fixture
def account(sandbox_state: SandboxState, sandbox_url: str) -> AccountCredentials:
    sandbox_state.provision("telegram", TOKEN, username="newsroom")
    return AccountCredentials(
        account_id="acc_1",
        platform="telegram",
        handle="newsroom",
        external_id=CHANNEL,
        access_token=Secret(TOKEN),
        base_url=f"{sandbox_url}/telegram",
    )


@pytest.fixture
def provider(sandbox_http: httpx.AsyncClient) -> TelegramProvider:
    return TelegramProvider(sandbox_http)


def publish(
    provider: TelegramProvider, account: AccountCredentials, content: PostContent
) -> TelegramPublishResult:
    result = asyncio.run(provider.publish(account, content, idempotency_key="k1"))
    assert isinstance(result, TelegramPublishResult)
    return result


def failure(
    provider: TelegramProvider,
    account: AccountCredentials,
    content: PostContent,
    kind: type[ProviderError],
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, content)
    error = caught.value
    assert error.platform == "telegram"
    assert TOKEN not in str(error) and TOKEN not in repr(error)
    return error


# -- publishing ------------------------------------------------------------------------


def test_capabilities_declare_telegrams_rules() -> None:
    caps = TelegramProvider.capabilities
    assert (caps.text_limit, caps.caption_limit, caps.media.max_items) == (4096, 1024, 10)
    assert caps.supports_threads and not caps.supports_refresh
    assert caps.idempotency is IdempotencyMode.NONE
    assert caps.count_text("🎉") == 2


def test_a_text_message_to_a_supergroup(
    provider: TelegramProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, account, PostContent("Hello <b>not bold</b> *plain*"))
    [post] = sandbox_state.accepted("telegram")
    assert post.text == "Hello <b>not bold</b> *plain*"
    assert result.remote_id == post.remote_id == f"{CHANNEL}:1"
    assert result.url == "https://t.me/c/1234567890/1"
    assert result.migrated_to_chat_id is None


def test_a_photo_with_a_caption(
    provider: TelegramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    publish(provider, account, PostContent("caption", media=(image_file("p.png", 80, 60),)))
    [post] = sandbox_state.accepted("telegram")
    assert post.text == "caption"
    assert [(m.mime_type, m.width, m.height) for m in post.media] == [("image/png", 80, 60)]
    assert sandbox_state.request_count("telegram", "POST /bot{token}/sendPhoto") == 1


def test_a_video(
    provider: TelegramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    video_file: Callable[..., MediaFile],
) -> None:
    publish(provider, account, PostContent("clip", media=(video_file(),)))
    [post] = sandbox_state.accepted("telegram")
    assert [(m.mime_type, m.width, m.height) for m in post.media] == [("video/mp4", 1280, 720)]


def test_an_album_of_photos_and_a_video(
    provider: TelegramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
    video_file: Callable[..., MediaFile],
) -> None:
    media = (image_file("a.png", 10, 10), image_file("b.png", 20, 10), video_file())
    result = publish(provider, account, PostContent("album", media=media))
    [post] = sandbox_state.accepted("telegram")
    assert post.text == "album"
    assert [m.mime_type for m in post.media] == ["image/png", "image/png", "video/mp4"]
    assert result.remote_id == f"{CHANNEL}:1"
    assert sandbox_state.request_count("telegram", "POST /bot{token}/sendMediaGroup") == 1


def test_a_thread_is_a_chain_of_replies(
    provider: TelegramProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    result = publish(provider, account, PostContent("1/3", thread=("2/3", "3/3")))
    posts = sandbox_state.accepted("telegram")
    assert [p.text for p in posts] == ["1/3", "2/3", "3/3"]
    assert [p.reply_to for p in posts] == [None, posts[0].remote_id, posts[1].remote_id]
    assert result.thread_ids == (posts[1].remote_id, posts[2].remote_id)


def test_a_migrated_group_is_followed_once_and_reported(
    provider: TelegramProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    account.external_id = "-4001"
    new_id = telegram_chats(sandbox_state).upgrade(-4001)
    result = publish(provider, account, PostContent("moved", thread=("and on",)))
    assert result.migrated_to_chat_id == str(new_id) == "-1004001"
    posts = sandbox_state.accepted("telegram")
    assert [p.extra["chat_id"] for p in posts] == [new_id, new_id]
    assert result.remote_id == f"{new_id}:1"
    assert sandbox_state.request_count("telegram", SEND) == 3  # refused, resent, reply


def test_the_bot_token_stays_out_of_httpx_logs(
    provider: TelegramProvider, account: AccountCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="httpx"):
        publish(provider, account, PostContent("quiet"))
    assert "sendMessage" in caplog.text  # the line is there...
    assert TOKEN not in caplog.text  # ...without the token
    assert "/bot<hidden>/sendMessage" in caplog.text


# -- errors ----------------------------------------------------------------------------


def test_a_revoked_token_is_auth_revoked(
    provider: TelegramProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.revoke_token("telegram", TOKEN)
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert (error.status, error.code, error.message) == (401, "401", "telegram: Unauthorized")


def test_a_kicked_bot_is_auth_revoked(
    provider: TelegramProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    telegram_chats(sandbox_state).remove_bot(int(CHANNEL))
    error = failure(provider, account, PostContent("x"), AuthRevoked)
    assert error.status == 403
    assert "kicked" in error.message


def test_chat_not_found_and_too_long_are_content_rejected(
    provider: TelegramProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    too_long = failure(provider, account, PostContent("x" * 4097), ContentRejected)
    assert (too_long.status, too_long.message) == (
        400,
        "telegram: Bad Request: message is too long",
    )
    telegram_chats(sandbox_state).delete(int(CHANNEL))
    missing = failure(provider, account, PostContent("x"), ContentRejected)
    assert "chat not found" in missing.message
    assert sandbox_state.accepted("telegram") == []


def test_a_broken_photo_is_media_rejected(
    provider: TelegramProvider, account: AccountCredentials, tmp_path: Path
) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"nope")
    broken = MediaFile(path, "image/png", "image", 4)
    error = failure(provider, account, PostContent("x", media=(broken,)), MediaRejected)
    assert error.message == "telegram: Bad Request: IMAGE_PROCESS_FAILED"


def test_429_carries_retry_after_from_the_body(
    provider: TelegramProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("telegram", burst_429=1, burst_reset_seconds=35)
    error = failure(provider, account, PostContent("x"), RateLimited)
    assert isinstance(error, RateLimited)
    assert (error.status, error.retry_after) == (429, 35.0)
    assert "retry after 35" in error.message


def test_the_group_budget_answers_429_until_the_minute_ends(
    provider: TelegramProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.override_rate_limit("telegram", "group", limit=1, per_seconds=60)
    publish(provider, account, PostContent("first"))
    error = failure(provider, account, PostContent("second"), RateLimited)
    assert error.retry_after == 60.0  # type: ignore[attr-defined]  # the clock is on the minute
    assert [p.text for p in sandbox_state.accepted("telegram")] == ["first"]


def test_a_thread_item_failing_after_the_post_is_out_is_not_retried(
    provider: TelegramProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.override_rate_limit("telegram", "group", limit=2, per_seconds=60)
    error = failure(provider, account, PostContent("1", thread=("2", "3")), OutcomeUnknown)
    assert (error.retryable, error.status, error.code) == (False, 429, "429")
    assert f"the post is out ({CHANNEL}:1) but thread item 2 failed" in error.message
    assert len(sandbox_state.accepted("telegram")) == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(
    provider: TelegramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    status: int,
) -> None:
    sandbox_state.faults.set("telegram", error_rates={status: 1.0})
    error = failure(provider, account, PostContent("x"), TransientError)
    assert type(error) is TransientError
    assert error.status == status


def test_accept_then_drop_is_outcome_unknown(
    provider: TelegramProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("telegram", drops=1)
    failure(provider, account, PostContent("maybe"), OutcomeUnknown)
    assert [p.text for p in sandbox_state.accepted("telegram")] == ["maybe"]


# -- odd answers at the edge -----------------------------------------------------------


def edge(handler: Callable[[httpx.Request], httpx.Response]) -> TelegramProvider:
    return TelegramProvider(httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def edge_account() -> AccountCredentials:
    return AccountCredentials("acc", "telegram", "bot", "42", Secret(TOKEN))


@pytest.mark.parametrize(
    ("answer", "kind", "status"),
    [
        (httpx.Response(502, html="<html><h1>502 Bad Gateway</h1></html>"), TransientError, 502),
        (httpx.Response(200, content=b""), OutcomeUnknown, 200),
        (httpx.Response(200, content=b'{"ok": true, "result": {'), OutcomeUnknown, 200),
        (httpx.Response(200, json={"ok": True, "result": True}), OutcomeUnknown, 200),
        (httpx.Response(400, content=b"<html>"), ContentRejected, 400),
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


def test_requests_go_to_the_bot_url_as_json() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        message = {"message_id": 7, "date": 0, "chat": {"id": 42, "type": "private"}}
        return httpx.Response(200, json={"ok": True, "result": message})

    result = asyncio.run(
        edge(answer).publish(edge_account(), PostContent("hi"), idempotency_key="k")
    )
    [request] = seen
    assert str(request.url) == f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    assert request.headers["content-type"] == "application/json"
    assert (result.remote_id, result.url) == ("42:7", None)


# -- validation ------------------------------------------------------------------------


def test_validate_counts_utf16_and_uses_the_caption_limit_with_media(
    image_file: Callable[..., MediaFile], tmp_path: Path
) -> None:
    provider = TelegramProvider(None)
    [long_text] = provider.validate(PostContent("😀" * 2049))
    assert (long_text.field, long_text.value, long_text.limit) == ("telegram.text", 4098, 4096)
    [caption] = provider.validate(PostContent("x" * 1025, media=(image_file(),)))
    assert (caption.field, caption.value, caption.limit) == ("telegram.text", 1025, 1024)
    too_many = provider.validate(PostContent("x", media=(image_file(),) * 11))
    assert [(p.field, p.value, p.limit) for p in too_many] == [("telegram.media", 11, 10)]
    gif = MediaFile(tmp_path / "a.gif", "image/gif", "image", 10)
    [wrong] = provider.validate(PostContent("x", media=(gif,)))
    assert (wrong.field, wrong.value) == ("telegram.media[0]", "image/gif")
    assert provider.validate(PostContent("x" * 4096)) == []


def test_thread_replies_after_media_are_messages_held_to_4096_not_1024(
    provider: TelegramProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    """The caption (1,024) binds the photo's text; each reply is a sendMessage (4,096)."""
    reply = "Ответ 🎉 " + "ж" * (4096 - 9)  # 4,096 UTF-16 units
    content = PostContent("Фото", media=(image_file(),), thread=(reply,))
    assert TelegramProvider(None).validate(content) == []
    publish(provider, account, content)
    assert [p.text for p in sandbox_state.accepted("telegram")] == ["Фото", reply]
    over = TelegramProvider(None).validate(
        PostContent("x" * 1025, media=(image_file(),), thread=(reply + "!",))
    )
    assert [(p.field, p.value, p.limit) for p in over] == [
        ("telegram.text", 1025, 1024),
        ("telegram.thread[1]", 4097, 4096),
    ]
