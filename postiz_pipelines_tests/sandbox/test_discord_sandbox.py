"""The Discord emulator through HTTP: bot auth, channel states, the message body rules,
nonces, multipart files, webhooks, and the rate-limit headers and 429 bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.discord import discord_channels

BOT = {"Authorization": "Bot bot-token"}
CHANNEL = "900000000000000001"


def post(client: httpx.AsyncClient, path: str, **kw: Any) -> httpx.Response:
    return asyncio.run(client.post(f"/discord{path}", **kw))


def message(
    client: httpx.AsyncClient, channel: str = CHANNEL, headers: dict[str, str] = BOT, **body: Any
) -> httpx.Response:
    return post(client, f"/api/v10/channels/{channel}/messages", headers=headers, json=body)


def test_a_message_and_its_rate_limit_headers(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    response = message(sandbox_client, content="hi")
    assert response.status_code == 200
    body = response.json()
    assert (body["content"], body["channel_id"], body["type"], body["author"]["bot"]) == (
        "hi",
        CHANNEL,
        0,
        True,
    )
    assert body["timestamp"] == "2026-11-28T12:00:00.000000+00:00"
    # A snowflake carries its creation time in its top bits.
    assert (int(body["id"]) >> 22) + 1_420_070_400_000 == int(clock.now().timestamp() * 1000)
    headers = response.headers
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("5", "4")
    assert headers["X-RateLimit-Reset-After"] == "5.000"
    assert float(headers["X-RateLimit-Reset"]) == clock.now().timestamp() + 5
    assert len(headers["X-RateLimit-Bucket"]) == 32
    assert [p.remote_id for p in sandbox_state.accepted("discord")] == [body["id"]]


def test_the_channel_budget_answers_429_with_a_float_retry_after(
    sandbox_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    clock.advance(1.25)
    statuses = [message(sandbox_client, content=f"m{i}") for i in range(6)]
    assert [r.status_code for r in statuses] == [200] * 5 + [429]
    limited = statuses[-1]
    assert limited.json() == {
        "message": "You are being rate limited.",
        "retry_after": 3.75,
        "global": False,
    }
    assert (limited.headers["Retry-After"], limited.headers["X-RateLimit-Scope"]) == ("4", "user")
    assert (
        message(sandbox_client, channel="900000000000000002", content="other channel").status_code
        == 200
    )


def test_auth_and_channel_errors(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    unauthorized = {"message": "401: Unauthorized", "code": 0}
    assert message(sandbox_client, headers={}, content="x").json() == unauthorized
    assert (
        message(sandbox_client, headers={"Authorization": "Bearer bot-token"}, content="x").json()
        == unauthorized
    )
    not_snowflake = message(sandbox_client, channel="general", content="x").json()
    assert not_snowflake["code"] == 50035
    assert not_snowflake["errors"]["channel_id"]["_errors"][0]["code"] == "NUMBER_TYPE_COERCE"
    channels = discord_channels(sandbox_state)
    cases = {
        "1": (channels.delete, 404, 10003),
        "2": (channels.deny_access, 403, 50001),
        "3": (channels.deny_sending, 403, 50013),
    }
    for channel, (control, status, code) in cases.items():
        control(channel)
        response = message(sandbox_client, channel=channel, content="x")
        assert (response.status_code, response.json()["code"]) == (status, code)


def test_body_rules(sandbox_client: httpx.AsyncClient, clock: FixedClock) -> None:
    assert message(sandbox_client, content="x" * 2000).status_code == 200
    too_long = message(sandbox_client, content="x" * 2001).json()
    assert too_long["errors"] == {
        "content": {
            "_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
            ]
        }
    }
    assert message(sandbox_client, content="  ").json() == {
        "message": "Cannot send an empty message",
        "code": 50006,
    }
    long_nonce = message(sandbox_client, content="x", nonce="n" * 26).json()
    assert "nonce" in long_nonce["errors"]
    orphan = message(sandbox_client, content="x", message_reference={"message_id": "123"}).json()
    assert orphan["errors"]["message_reference"]["_errors"][0]["code"] == "REPLIES_UNKNOWN_MESSAGE"
    clock.advance(5)  # refused messages count toward the channel's budget too
    parent = message(sandbox_client, content="parent").json()["id"]
    reply = message(
        sandbox_client, content="child", message_reference={"message_id": parent}
    ).json()
    assert (reply["type"], reply["message_reference"]["message_id"]) == (19, parent)


def test_an_enforced_nonce_returns_the_first_message_for_five_minutes(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    first = message(sandbox_client, content="once", nonce="n-1", enforce_nonce=True).json()
    clock.advance(299)
    again = message(sandbox_client, content="changed", nonce="n-1", enforce_nonce=True).json()
    assert (again["id"], again["content"], again["nonce"]) == (first["id"], "once", "n-1")
    unenforced = message(sandbox_client, content="once", nonce="n-1").json()
    elsewhere = message(
        sandbox_client, channel="900000000000000009", content="o", nonce="n-1", enforce_nonce=True
    ).json()
    clock.advance(2)
    later = message(sandbox_client, content="once", nonce="n-1", enforce_nonce=True).json()
    assert len({first["id"], unenforced["id"], elsewhere["id"], later["id"]}) == 4
    assert len(sandbox_state.accepted("discord")) == 4


def test_multipart_files_with_descriptions(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, png: Callable[..., bytes]
) -> None:
    payload = {
        "content": "pics",
        "attachments": [{"id": 0, "description": "a red square"}, {"id": 1}],
    }
    files = {"files[0]": ("a.png", png(), "image/png"), "files[1]": ("b.png", png(), "image/png")}
    response = post(
        sandbox_client,
        f"/api/v10/channels/{CHANNEL}/messages",
        headers=BOT,
        data={"payload_json": json.dumps(payload)},
        files=files,
    )
    attachments = response.json()["attachments"]
    assert [(a["filename"], a.get("description")) for a in attachments] == [
        ("a.png", "a red square"),
        ("b.png", None),
    ]
    [stored] = sandbox_state.accepted("discord")
    assert [m.description for m in stored.media] == ["a red square", ""]
    eleven = {f"files[{i}]": (f"{i}.png", png(), "image/png") for i in range(11)}
    too_many = post(
        sandbox_client,
        f"/api/v10/channels/{CHANNEL}/messages",
        headers=BOT,
        data={"payload_json": json.dumps({"content": "x"})},
        files=eleven,
    ).json()
    assert "attachments" in too_many["errors"]
    only_files = post(
        sandbox_client,
        f"/api/v10/channels/{CHANNEL}/messages",
        headers=BOT,
        files={"files[0]": ("c.png", png(), "image/png")},
    )
    assert only_files.status_code == 200


def test_webhooks_wait_or_answer_204(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    quiet = post(sandbox_client, "/api/webhooks/123/hook-token", json={"content": "no wait"})
    assert (quiet.status_code, quiet.content) == (204, b"")
    loud = post(
        sandbox_client, "/api/v10/webhooks/123/hook-token?wait=true", json={"content": "wait"}
    )
    body = loud.json()
    assert (body["webhook_id"], body["content"]) == ("123", "wait")
    first, second = sandbox_state.accepted("discord")
    assert first.extra["channel_id"] == second.extra["channel_id"]  # one webhook, one channel
    sandbox_state.revoke_token("discord", "hook-token")
    gone = post(sandbox_client, "/api/webhooks/123/hook-token?wait=true", json={"content": "x"})
    assert (gone.status_code, gone.json()) == (404, {"message": "Unknown Webhook", "code": 10015})


def test_slowmode_and_fault_429s(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    discord_channels(sandbox_state).slowmode(CHANNEL, 10)
    assert message(sandbox_client, content="a").status_code == 200
    clock.advance(4)
    slow = message(sandbox_client, content="b")
    assert (slow.status_code, slow.json()["code"], slow.json()["retry_after"]) == (429, 20016, 6.0)
    clock.advance(6)
    assert message(sandbox_client, content="c").status_code == 200
    sandbox_state.faults.set("discord", burst_429=1, burst_reset_seconds=1.5)
    fault = message(sandbox_client, channel="900000000000000003", content="d")
    assert (fault.json()["retry_after"], fault.headers["Retry-After"]) == (1.5, "2")


def test_the_global_budget_is_per_bot(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    sandbox_state.override_rate_limit("discord", "global", limit=1, per_seconds=1)
    assert message(sandbox_client, content="a").status_code == 200
    limited = message(sandbox_client, channel="900000000000000004", content="b")
    assert (limited.json()["global"], limited.headers["X-RateLimit-Global"]) == (True, "true")
    assert (
        message(sandbox_client, headers={"Authorization": "Bot other"}, content="c").status_code
        == 200
    )
