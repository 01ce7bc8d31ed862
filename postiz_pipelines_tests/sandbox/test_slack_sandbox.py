"""The Slack Web API emulator through HTTP: ``ok: false`` errors, channels, the external
file upload and its delayed share, token rotation; and slack-sdk driving it over a socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.server import running_sandbox
from postiz_pipelines.sandbox.slack import slack_channels

BOT = {"Authorization": "Bearer xoxb-test"}


def api(
    client: httpx.AsyncClient, method: str, headers: dict[str, str] = BOT, **form: Any
) -> httpx.Response:
    return asyncio.run(client.post(f"/slack/api/{method}", headers=headers, data=form))


def test_post_message_answers_ok_and_records_unescaped_text(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    body = api(sandbox_client, "chat.postMessage", channel="C1", text="a &amp; b &lt;c&gt;").json()
    assert (body["ok"], body["channel"]) == (True, "C1")
    assert body["ts"].startswith(f"{int(clock.now().timestamp())}.")
    assert body["message"]["text"] == "a &amp; b &lt;c&gt;"
    [post] = sandbox_state.accepted("slack")
    assert (post.text, post.remote_id) == ("a & b <c>", body["ts"])
    as_json = asyncio.run(
        sandbox_client.post(
            "/slack/api/chat.postMessage", headers=BOT, json={"channel": "C1", "text": "json"}
        )
    )
    assert as_json.json()["ok"] is True


def test_errors_come_as_ok_false_with_http_200(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    sandbox_state.revoke_token("slack", "xoxb-revoked")
    sandbox_state.expire_token("slack", "xoxb-expired")
    channels = slack_channels(sandbox_state)
    channels.archive("C2")
    channels.remove_bot("C3")
    channels.delete("C4")
    cases = [
        ({}, {"channel": "C1", "text": "x"}, "not_authed"),
        ({"Authorization": "Bearer xoxb-revoked"}, {"channel": "C1", "text": "x"}, "token_revoked"),
        ({"Authorization": "Bearer xoxb-expired"}, {"channel": "C1", "text": "x"}, "token_expired"),
        (BOT, {"channel": "C2", "text": "x"}, "is_archived"),
        (BOT, {"channel": "C3", "text": "x"}, "not_in_channel"),
        (BOT, {"channel": "C4", "text": "x"}, "channel_not_found"),
        (BOT, {"channel": "C1"}, "no_text"),
        (BOT, {"channel": "C1", "text": "x" * 40_001}, "msg_too_long"),
        (BOT, {"channel": "C1", "text": "x", "thread_ts": "1.2"}, "thread_not_found"),
    ]
    for headers, form, error in cases:
        response = api(sandbox_client, "chat.postMessage", headers=headers, **form)
        assert (response.status_code, response.json()) == (200, {"ok": False, "error": error}), (
            error
        )
    token_in_form = api(
        sandbox_client, "chat.postMessage", headers={}, token="xoxb-test", channel="C1", text="x"
    )
    assert token_in_form.json()["ok"] is True


def test_join_public_channels_only(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    channels = slack_channels(sandbox_state)
    channels.remove_bot("C5")
    channels.remove_bot("G5")
    assert (
        api(sandbox_client, "conversations.join", channel="C5").json()["channel"]["is_member"]
        is True
    )
    assert api(sandbox_client, "chat.postMessage", channel="C5", text="in").json()["ok"] is True
    private = api(sandbox_client, "conversations.join", channel="G5").json()
    assert private["error"] == "method_not_supported_for_channel_type"


def test_the_channel_budget_answers_429_with_retry_after(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    sandbox_state.override_rate_limit("slack", "messages", limit=2, per_seconds=60)
    clock.advance(15)
    responses = [
        api(sandbox_client, "chat.postMessage", channel="C1", text=str(i)) for i in range(3)
    ]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].json() == {"ok": False, "error": "ratelimited"}
    assert responses[2].headers["Retry-After"] == "45"
    assert api(sandbox_client, "chat.postMessage", channel="C2", text="other").status_code == 200


def test_external_upload_then_a_delayed_share(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, png: Callable[..., bytes]
) -> None:
    data = png()
    got = api(
        sandbox_client,
        "files.getUploadURLExternal",
        filename="p.png",
        length=str(len(data)),
        alt_txt="red",
    ).json()
    file_id, upload_url = got["file_id"], got["upload_url"]
    assert upload_url.startswith("http://sandbox.test/slack/upload/v1/")
    short = asyncio.run(sandbox_client.post(upload_url, content=data[:-1]))
    assert short.status_code == 400
    uploaded = asyncio.run(sandbox_client.post(upload_url, content=data))
    assert (uploaded.status_code, uploaded.text) == (200, f"OK - {len(data)}")
    done = api(
        sandbox_client,
        "files.completeUploadExternal",
        files=json.dumps([{"id": file_id, "title": "Red"}]),
        channel_id="C1",
        initial_comment="look &amp; see",
    ).json()
    assert done == {"ok": True, "files": [{"id": file_id, "title": "Red"}]}
    hidden = asyncio.run(
        sandbox_client.get(f"/slack/api/files.info?file={file_id}", headers=BOT)
    ).json()
    assert hidden["file"]["shares"] == {}
    shown = api(sandbox_client, "files.info", file=file_id).json()["file"]
    [post] = sandbox_state.accepted("slack")
    assert shown["shares"]["public"]["C1"][0]["ts"] == post.remote_id
    assert (post.text, post.media[0].description, post.media[0].mime_type) == (
        "look & see",
        "red",
        "image/png",
    )
    again = api(
        sandbox_client,
        "files.completeUploadExternal",
        files=json.dumps([{"id": file_id}]),
        channel_id="C1",
    )
    assert again.json()["error"] == "file_not_found"


def test_upload_argument_errors(sandbox_client: httpx.AsyncClient) -> None:
    assert api(sandbox_client, "files.getUploadURLExternal", filename="a.png", length="0").json()[
        "error"
    ] == ("invalid_arguments")
    never_sent = api(
        sandbox_client, "files.getUploadURLExternal", filename="b.png", length="3"
    ).json()["file_id"]
    pending = api(
        sandbox_client, "files.completeUploadExternal", files=json.dumps([{"id": never_sent}])
    )
    assert pending.json()["error"] == "file_not_found"
    assert (
        api(sandbox_client, "files.completeUploadExternal", files="not json").json()["error"]
        == "invalid_arguments"
    )


def test_oauth_rotation_revokes_the_old_refresh_token(
    sandbox_client: httpx.AsyncClient, clock: FixedClock
) -> None:
    client = {"client_id": "1.2", "client_secret": "s"}
    granted = api(sandbox_client, "oauth.v2.access", headers={}, code="c1", **client).json()
    assert granted["access_token"].startswith("xoxe.xoxb-1-")
    assert (granted["refresh_token"][:7], granted["expires_in"]) == ("xoxe-1-", 43200)
    bearer = {"Authorization": f"Bearer {granted['access_token']}"}
    me = api(sandbox_client, "auth.test", headers=bearer).json()
    clock.advance(43200)
    assert api(sandbox_client, "auth.test", headers=bearer).json()["error"] == "token_expired"
    rotated = api(
        sandbox_client,
        "oauth.v2.access",
        headers={},
        grant_type="refresh_token",
        refresh_token=granted["refresh_token"],
        **client,
    ).json()
    new_bearer = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert api(sandbox_client, "auth.test", headers=new_bearer).json()["user_id"] == me["user_id"]
    reused = api(
        sandbox_client,
        "oauth.v2.access",
        headers={},
        grant_type="refresh_token",
        refresh_token=granted["refresh_token"],
        **client,
    ).json()
    assert reused == {"ok": False, "error": "invalid_refresh_token"}
    assert (
        api(sandbox_client, "oauth.v2.access", headers={}, code="c2").json()["error"]
        == "invalid_client_id"
    )
    assert api(sandbox_client, "oauth.v2.access", headers={}, code="c2", client_id="1.2").json()[
        "error"
    ] == ("bad_client_secret")
    basic = {"Authorization": "Basic MS4yOnM="}  # 1.2:s
    assert api(sandbox_client, "oauth.v2.access", headers=basic, code="c3").json()["ok"] is True
    assert (
        api(sandbox_client, "oauth.v2.access", headers=basic, code="c3").json()["error"]
        == "invalid_code"
    )


def test_injected_faults_use_slacks_shapes(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("slack", burst_429=1, burst_reset_seconds=9)
    limited = api(sandbox_client, "chat.postMessage", channel="C1", text="x")
    assert (limited.status_code, limited.headers["Retry-After"], limited.json()["error"]) == (
        429,
        "9",
        "ratelimited",
    )
    sandbox_state.faults.set("slack", error_rates={500: 1.0})
    failed = api(sandbox_client, "chat.postMessage", channel="C1", text="x")
    assert (failed.status_code, failed.json()) == (500, {"ok": False, "error": "internal_error"})


def test_slack_sdk_speaks_to_the_sandbox(png: Callable[..., bytes]) -> None:
    """The maintained client library, pointed at the sandbox over TCP: a message, a reply
    in its thread, and a file shared with ``files_upload_v2``."""
    from slack_sdk import WebClient

    state = SandboxState(clock=FixedClock(datetime(2026, 11, 28, 9, tzinfo=UTC)))
    with running_sandbox(state=state) as url:
        client = WebClient(token="xoxb-sdk", base_url=f"{url}/slack/api/")
        first = client.chat_postMessage(channel="C9", text="from the SDK")
        reply = client.chat_postMessage(channel="C9", text="in thread", thread_ts=first["ts"])
        shared = client.files_upload_v2(
            channel="C9",
            file=png(10, 10),
            filename="sdk.png",
            title="SDK",
            initial_comment="a file",
        )
        link = client.chat_getPermalink(channel="C9", message_ts=first["ts"])
    assert first["ok"] and reply["ok"] and shared["ok"]
    assert shared["file"]["id"].startswith("F")
    assert link["permalink"].endswith(f"/archives/C9/p{first['ts'].replace('.', '')}")
    posts = state.accepted("slack")
    assert [(p.text, p.reply_to) for p in posts] == [
        ("from the SDK", None),
        ("in thread", first["ts"]),
        ("a file", None),
    ]
    assert [m.filename for m in posts[2].media] == ["sdk.png"]
