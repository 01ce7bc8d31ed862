"""The Threads emulator through HTTP: containers of every media type, Threads' text count,
replies, the post and reply quotas, reading threads back, and tokens."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.sandbox import SandboxState

V = "/threads/v1.0"
TOKEN = "THAA-user-token"
JPEG = "https://cdn.example/photo.jpg"
MP4 = "https://cdn.example/clip.mp4"


def call(
    client: httpx.AsyncClient, method: str, path: str, token: str | None = TOKEN, **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return asyncio.run(client.request(method, path, headers=headers, **kw))


def error(response: httpx.Response) -> tuple[int, int, int | None]:
    body = response.json()["error"]
    return response.status_code, body["code"], body.get("error_subcode")


@pytest.fixture
def user(sandbox_state: SandboxState) -> str:
    return sandbox_state.provision("threads", TOKEN, username="writer").id


def container(client: httpx.AsyncClient, user: str, **fields: str) -> httpx.Response:
    return call(client, "POST", f"{V}/{user}/threads", data=fields)


def status(client: httpx.AsyncClient, container_id: str) -> dict[str, Any]:
    return call(
        client, "GET", f"{V}/{container_id}", params={"fields": "status,error_message"}
    ).json()


def publish(client: httpx.AsyncClient, user: str, creation_id: str) -> httpx.Response:
    return call(client, "POST", f"{V}/{user}/threads_publish", data={"creation_id": creation_id})


def post(client: httpx.AsyncClient, user: str, **fields: str) -> str:
    created = container(client, user, **fields)
    assert created.status_code == 200, created.text
    published = publish(client, user, created.json()["id"])
    assert published.status_code == 200, published.text
    return str(published.json()["id"])


def test_a_text_post_is_published_and_read_back(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, user: str
) -> None:
    thread_id = post(sandbox_client, user, media_type="TEXT", text="Hello Threads")
    [accepted] = sandbox_state.accepted("threads")
    assert (accepted.remote_id, accepted.text, accepted.media) == (thread_id, "Hello Threads", ())
    read = call(
        sandbox_client, "GET", f"{V}/{thread_id}", params={"fields": "text,permalink,media_type"}
    ).json()
    assert read["text"] == "Hello Threads"
    assert read["media_type"] == "TEXT_POST"
    assert read["permalink"].startswith("http://sandbox.test/threads/@writer/post/")


def test_text_is_counted_with_emoji_as_utf8_bytes(
    sandbox_client: httpx.AsyncClient, user: str
) -> None:
    assert container(sandbox_client, user, media_type="TEXT", text="x" * 500).status_code == 200
    assert container(sandbox_client, user, media_type="TEXT", text="👍" * 125).status_code == 200
    over = container(sandbox_client, user, media_type="TEXT", text="👍" * 125 + "x")
    assert error(over) == (400, 100, None)
    assert "at most 500 characters" in over.json()["error"]["message"]


def test_container_validation(sandbox_client: httpx.AsyncClient, user: str) -> None:
    assert error(container(sandbox_client, user, text="no type")) == (400, 100, None)
    assert error(container(sandbox_client, user, media_type="TEXT", text=" ")) == (400, 100, None)
    assert error(container(sandbox_client, user, media_type="IMAGE")) == (400, 100, None)
    gif = container(sandbox_client, user, media_type="IMAGE", image_url="https://c.example/a.gif")
    assert error(gif) == (400, 36001, 2207005)
    gone = container(sandbox_client, user, media_type="IMAGE", image_url="https://c.invalid/a.jpg")
    assert error(gone) == (400, 9004, 2207052)
    reply = container(sandbox_client, user, media_type="TEXT", text="x", reply_to_id="404")
    assert error(reply) == (400, 100, None)


def test_a_video_processes_and_failed_videos_report_why(
    sandbox_client: httpx.AsyncClient, user: str
) -> None:
    good = container(sandbox_client, user, media_type="VIDEO", video_url=MP4).json()["id"]
    assert error(publish(sandbox_client, user, good)) == (400, 9007, 2207027)
    assert [status(sandbox_client, good)["status"] for _ in range(3)] == [
        "IN_PROGRESS",
        "IN_PROGRESS",
        "FINISHED",
    ]
    cases = {
        "https://c.invalid/a.mp4": "FAILED_DOWNLOADING_VIDEO",
        "https://c.example/a.avi": "FAILED_PROCESSING_VIDEO",
    }
    for url, reason in cases.items():
        bad = container(sandbox_client, user, media_type="VIDEO", video_url=url).json()["id"]
        final = [status(sandbox_client, bad) for _ in range(3)][-1]
        assert final == {"id": bad, "status": "ERROR", "error_message": reason}


def test_a_carousel_takes_two_to_twenty_finished_items(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, user: str
) -> None:
    items = [
        container(
            sandbox_client, user, media_type="IMAGE", image_url=JPEG, is_carousel_item="true"
        ).json()["id"]
        for _ in range(2)
    ]
    one = container(sandbox_client, user, media_type="CAROUSEL", children=items[0])
    assert error(one) == (400, 100, None)
    too_many = container(sandbox_client, user, media_type="CAROUSEL", children=",".join(items * 11))
    assert error(too_many) == (400, 100, None)
    post(sandbox_client, user, media_type="CAROUSEL", children=",".join(items), text="two")
    [accepted] = sandbox_state.accepted("threads")
    assert [m.id for m in accepted.media] == items


def test_replies_form_a_thread_and_are_not_listed_as_threads(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, user: str
) -> None:
    root = post(sandbox_client, user, media_type="TEXT", text="1/2")
    reply = post(sandbox_client, user, media_type="TEXT", text="2/2", reply_to_id=root)
    assert [p.reply_to for p in sandbox_state.accepted("threads")] == [None, root]
    listed = call(sandbox_client, "GET", f"{V}/{user}/threads", params={"fields": "text"}).json()
    assert listed["data"] == [{"id": root, "text": "1/2"}]
    read = call(sandbox_client, "GET", f"{V}/{reply}", params={"fields": "is_reply"}).json()
    assert read == {"id": reply, "is_reply": True}


def test_the_threads_edge_filters_by_time(
    sandbox_client: httpx.AsyncClient, user: str, clock: FixedClock
) -> None:
    early = post(sandbox_client, user, media_type="TEXT", text="early")
    clock.advance(600)
    late = post(sandbox_client, user, media_type="TEXT", text="late")
    since = str(int(clock.now().timestamp()) - 60)
    found = call(sandbox_client, "GET", f"{V}/{user}/threads", params={"since": since}).json()
    assert [t["id"] for t in found["data"]] == [late]
    until = str(int(clock.now().timestamp()) - 60)
    found = call(sandbox_client, "GET", f"{V}/{user}/threads", params={"until": until}).json()
    assert [t["id"] for t in found["data"]] == [early]


def test_posts_and_replies_have_separate_daily_quotas(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, user: str
) -> None:
    sandbox_state.override_rate_limit("threads", "publish", limit=1, per_seconds=86_400)
    root = post(sandbox_client, user, media_type="TEXT", text="only post")
    post(sandbox_client, user, media_type="TEXT", text="a reply", reply_to_id=root)
    second = container(sandbox_client, user, media_type="TEXT", text="second post").json()["id"]
    assert error(publish(sandbox_client, user, second)) == (400, 9, None)
    limits = call(sandbox_client, "GET", f"{V}/{user}/threads_publishing_limit").json()["data"][0]
    assert (limits["quota_usage"], limits["config"]["quota_total"]) == (1, 1)
    assert (limits["reply_quota_usage"], limits["reply_config"]["quota_total"]) == (1, 1000)


def test_tokens_are_refreshed_and_exchanged(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, user: str
) -> None:
    refreshed = asyncio.run(
        sandbox_client.get(
            "/threads/refresh_access_token",
            params={"grant_type": "th_refresh_token", "access_token": TOKEN},
        )
    ).json()
    assert refreshed["expires_in"] == 5_183_944
    assert (
        call(sandbox_client, "GET", f"{V}/me", token=refreshed["access_token"]).json()["id"] == user
    )
    no_secret = asyncio.run(
        sandbox_client.get(
            "/threads/access_token",
            params={"grant_type": "th_exchange_token", "access_token": TOKEN},
        )
    )
    assert error(no_secret) == (400, 100, None)
    exchanged = asyncio.run(
        sandbox_client.get(
            "/threads/access_token",
            params={"grant_type": "th_exchange_token", "access_token": TOKEN, "client_secret": "s"},
        )
    ).json()
    assert (
        call(sandbox_client, "GET", f"{V}/me", token=exchanged["access_token"]).json()["id"] == user
    )
    sandbox_state.revoke_token("threads", refreshed["access_token"])
    assert error(call(sandbox_client, "GET", f"{V}/me", token=refreshed["access_token"])) == (
        400,
        190,
        460,
    )
