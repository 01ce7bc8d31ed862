"""The Telegram Bot API emulator through HTTP: the ``{ok, result}`` envelope, tokens, chats
(migration, removal, deletion), limits, uploads, albums and replies; and python-telegram-bot
driving it over a real socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.server import running_sandbox
from postiz_pipelines.sandbox.telegram import telegram_chats

TOKEN = "5000:secret-token"


def bot(client: httpx.AsyncClient, method: str, token: str = TOKEN, **kw: Any) -> httpx.Response:
    return asyncio.run(client.post(f"/telegram/bot{token}/{method}", **kw))


def send(client: httpx.AsyncClient, chat: Any, text: str, **params: Any) -> httpx.Response:
    return bot(client, "sendMessage", json={"chat_id": chat, "text": text, **params})


def test_get_me_describes_the_bot_by_its_token_id(sandbox_client: httpx.AsyncClient) -> None:
    body = bot(sandbox_client, "getMe").json()
    assert body["ok"] is True
    assert (body["result"]["id"], body["result"]["is_bot"]) == (5000, True)


def test_tokens_malformed_revoked_and_expired(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    malformed = bot(sandbox_client, "getMe", token="not-a-token")
    assert malformed.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    sandbox_state.revoke_token("telegram", "1:revoked")
    sandbox_state.expire_token("telegram", "2:expired")
    for token in ("1:revoked", "2:expired"):
        response = bot(sandbox_client, "getMe", token=token)
        assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_a_message_is_recorded_with_per_chat_ids(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    first = send(sandbox_client, -100777, "one").json()["result"]
    second = send(sandbox_client, "-100777", "two").json()["result"]
    private = send(sandbox_client, 42, "dm").json()["result"]
    assert (first["message_id"], second["message_id"], private["message_id"]) == (1, 2, 1)
    assert first["chat"] == {"id": -100777, "type": "supergroup", "title": "Chat -100777"}
    assert first["date"] == int(clock.now().timestamp())
    assert private["chat"]["type"] == "private"
    assert [p.remote_id for p in sandbox_state.accepted("telegram")] == [
        "-100777:1",
        "-100777:2",
        "42:1",
    ]


def test_a_form_body_and_a_channel_by_name(sandbox_client: httpx.AsyncClient) -> None:
    response = bot(sandbox_client, "sendMessage", data={"chat_id": "@news", "text": "form"})
    result = response.json()["result"]
    assert (result["chat"]["type"], result["chat"]["username"]) == ("channel", "news")
    assert "sender_chat" in result and "from" not in result


def test_text_limits_count_utf16_units(sandbox_client: httpx.AsyncClient) -> None:
    assert send(sandbox_client, 1, "😀" * 2048).status_code == 200
    too_long = send(sandbox_client, 1, "😀" * 2048 + "x").json()
    assert too_long == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message is too long",
    }
    empty = send(sandbox_client, 1, "  ").json()
    assert empty["description"] == "Bad Request: message text is empty"
    no_chat = bot(sandbox_client, "sendMessage", json={"text": "x"}).json()
    assert no_chat["description"] == "Bad Request: chat_id is empty"


def test_replies_must_point_at_a_message(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    parent = send(sandbox_client, 9, "parent").json()["result"]["message_id"]
    reply = send(sandbox_client, 9, "child", reply_parameters={"message_id": parent}).json()
    assert reply["result"]["reply_to_message"]["message_id"] == parent
    missing = send(sandbox_client, 9, "orphan", reply_parameters={"message_id": 99}).json()
    assert missing["description"] == "Bad Request: message to be replied not found"
    lenient = send(
        sandbox_client,
        9,
        "ok",
        reply_parameters={"message_id": 99, "allow_sending_without_reply": True},
    )
    assert lenient.status_code == 200
    assert [p.reply_to for p in sandbox_state.accepted("telegram")] == [None, "9:1", None]


def test_chat_controls(sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState) -> None:
    chats = telegram_chats(sandbox_state)
    assert chats.upgrade(-55) == -10055
    migrated = send(sandbox_client, -55, "x").json()
    assert migrated["parameters"] == {"migrate_to_chat_id": -10055}
    assert migrated["error_code"] == 400
    assert send(sandbox_client, -10055, "x").status_code == 200
    chats.remove_bot(-10055)
    assert send(sandbox_client, -10055, "x").json()["description"] == (
        "Forbidden: bot was kicked from the supergroup chat"
    )
    chats.remove_bot(7)
    assert (
        send(sandbox_client, 7, "x").json()["description"]
        == "Forbidden: bot was blocked by the user"
    )
    chats.delete(8)
    assert send(sandbox_client, 8, "x").json()["description"] == "Bad Request: chat not found"
    with pytest.raises(ValueError, match="only a group"):
        chats.upgrade(-10055)
    sandbox_state.reset()
    assert send(sandbox_client, -55, "after reset").status_code == 200


def test_photos_are_checked_and_captions_limited(
    sandbox_client: httpx.AsyncClient, png: Callable[..., bytes]
) -> None:
    def photo(data: bytes, caption: str = "") -> dict[str, Any]:
        files = {"photo": ("p.png", data, "image/png")}
        return bot(
            sandbox_client, "sendPhoto", data={"chat_id": "5", "caption": caption}, files=files
        ).json()

    ok = photo(png(30, 20), "nice")["result"]
    assert ok["caption"] == "nice"
    assert [(s["width"], s["height"]) for s in ok["photo"]] == [(30, 20), (30, 20)]
    big = photo(png(300, 200))["result"]["photo"]
    assert [(s["width"], s["height"]) for s in big] == [(90, 60), (300, 200)]
    assert photo(b"garbage")["description"] == "Bad Request: IMAGE_PROCESS_FAILED"
    assert photo(png(420, 20))["description"] == "Bad Request: PHOTO_INVALID_DIMENSIONS"
    assert photo(png(), "c" * 1025)["description"] == "Bad Request: message caption is too long"
    reused = bot(
        sandbox_client, "sendPhoto", json={"chat_id": 5, "photo": ok["photo"][-1]["file_id"]}
    ).json()
    assert reused["ok"] is True
    by_url = bot(
        sandbox_client, "sendPhoto", json={"chat_id": 5, "photo": "https://x/y.png"}
    ).json()
    assert by_url["description"] == "Bad Request: wrong file identifier/HTTP URL specified"


def test_an_album_shares_one_media_group_id(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, png: Callable[..., bytes]
) -> None:
    media = [
        {"type": "photo", "media": "attach://a", "caption": "album"},
        {"type": "video", "media": "attach://b"},
    ]
    files = {
        "a": ("a.png", png(), "image/png"),
        "b": ("b.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
    }
    response = bot(
        sandbox_client,
        "sendMediaGroup",
        data={"chat_id": "-1009", "media": json.dumps(media)},
        files=files,
    ).json()
    messages = response["result"]
    assert [m["message_id"] for m in messages] == [1, 2]
    assert len({m["media_group_id"] for m in messages}) == 1
    assert ("photo" in messages[0], "video" in messages[1]) == (True, True)
    [post] = sandbox_state.accepted("telegram")
    assert (post.text, [m.mime_type for m in post.media]) == ("album", ["image/png", "video/mp4"])
    one = bot(
        sandbox_client,
        "sendMediaGroup",
        data={"chat_id": "-1009", "media": json.dumps(media[:1])},
        files=files,
    ).json()
    assert one["error_code"] == 400


def test_the_group_budget_and_a_fault_429(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    sandbox_state.override_rate_limit("telegram", "group", limit=1, per_seconds=60)
    assert send(sandbox_client, -100, "a").status_code == 200
    limited = send(sandbox_client, -100, "b").json()
    assert limited == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 60",
        "parameters": {"retry_after": 60},
    }
    assert send(sandbox_client, 100, "private chats have no group budget").status_code == 200
    sandbox_state.faults.set("telegram", burst_429=1, burst_reset_seconds=7)
    assert send(sandbox_client, 100, "x").json()["parameters"] == {"retry_after": 7}


def test_python_telegram_bot_speaks_to_the_sandbox(png: Callable[..., bytes]) -> None:
    """The maintained client library, pointed at the sandbox over TCP, sends a message, a
    photo and a reply; the sandbox records them as Telegram would."""
    import telegram

    state = SandboxState(clock=FixedClock(datetime(2026, 11, 28, tzinfo=UTC)))

    async def scenario(url: str) -> tuple[Any, Any, Any]:
        async with telegram.Bot(TOKEN, base_url=f"{url}/telegram/bot") as client:
            me = await client.get_me()
            first = await client.send_message(chat_id=-100321, text="from the SDK")
            photo = await client.send_photo(
                chat_id=-100321,
                photo=png(16, 12),
                caption="a picture",
                reply_to_message_id=first.message_id,
            )
            return me, first, photo

    with running_sandbox(state=state) as url:
        me, first, photo = asyncio.run(scenario(url))
    assert (me.id, me.is_bot) == (5000, True)
    assert (first.message_id, first.chat.id, first.text) == (1, -100321, "from the SDK")
    assert (photo.caption, photo.photo[-1].width, photo.reply_to_message.message_id) == (
        "a picture",
        16,
        1,
    )
    texts = [(p.text, p.reply_to) for p in state.accepted("telegram")]
    assert texts == [("from the SDK", None), ("a picture", "-100321:1")]
