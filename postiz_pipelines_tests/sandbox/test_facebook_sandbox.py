"""The Facebook Pages emulator through HTTP: the Graph dialect (tokens, versions, errors,
usage headers), feed posts with photos, videos, comments, and reading posts back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.sandbox import SandboxState

V = "/facebook/v24.0"
PAGE_TOKEN = "EAAB-page-token"


def call(
    client: httpx.AsyncClient, method: str, path: str, token: str | None = PAGE_TOKEN, **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return asyncio.run(client.request(method, path, headers=headers, **kw))


def error(response: httpx.Response) -> tuple[int, int, int | None]:
    body = response.json()["error"]
    assert body["type"] and body["fbtrace_id"] and body["message"]
    return response.status_code, body["code"], body.get("error_subcode")


def page(state: SandboxState) -> str:
    return state.provision("facebook", PAGE_TOKEN, username="acme", display_name="Acme").id


# -- the Graph dialect -------------------------------------------------------------------


def test_me_is_the_page_of_the_token_and_fields_select(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    page_id = page(sandbox_state)
    assert call(sandbox_client, "GET", f"{V}/me").json() == {"id": page_id, "name": "Acme"}
    only_id = call(sandbox_client, "GET", f"{V}/{page_id}", params={"fields": "id"})
    assert only_id.json() == {"id": page_id}
    by_param = asyncio.run(
        sandbox_client.get(f"{V}/me", params={"access_token": PAGE_TOKEN, "fields": "name"})
    )
    assert by_param.json() == {"id": page_id, "name": "Acme"}
    oauth = asyncio.run(
        sandbox_client.get(f"{V}/me", headers={"Authorization": f"OAuth {PAGE_TOKEN}"})
    )
    assert oauth.json()["id"] == page_id


def test_token_failures_answer_graph_codes(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    sandbox_state.revoke_token("facebook", "revoked")
    sandbox_state.expire_token("facebook", "expired")
    sandbox_state.provision("facebook", "checkpointed", disabled=True)
    assert error(call(sandbox_client, "GET", f"{V}/me", token=None)) == (400, 2500, None)
    assert error(call(sandbox_client, "GET", f"{V}/me", token="revoked")) == (400, 190, 460)
    expired = call(sandbox_client, "GET", f"{V}/me", token="expired")
    assert error(expired) == (400, 190, 463)
    assert "Session has expired" in expired.json()["error"]["message"]
    assert error(call(sandbox_client, "GET", f"{V}/me", token="checkpointed")) == (400, 190, 459)


def test_a_path_without_a_version_is_refused(sandbox_client: httpx.AsyncClient) -> None:
    assert error(call(sandbox_client, "GET", "/facebook/latest/me")) == (400, 2500, None)


def test_every_answer_carries_usage_headers(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    page_id = page(sandbox_state)
    sandbox_state.override_rate_limit("facebook", "api", limit=4, per_seconds=86_400)
    response = call(sandbox_client, "GET", f"{V}/me")
    assert json.loads(response.headers["X-App-Usage"])["call_count"] == 25
    [usage] = json.loads(response.headers["X-Business-Use-Case-Usage"])[page_id]
    assert (usage["type"], usage["call_count"], usage["estimated_time_to_regain_access"]) == (
        "pages",
        25,
        0,
    )


def test_over_the_budget_answers_32_with_the_time_to_regain_access(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    page_id = page(sandbox_state)
    sandbox_state.override_rate_limit("facebook", "api", limit=1, per_seconds=86_400)
    assert call(sandbox_client, "GET", f"{V}/me").status_code == 200
    throttled = call(sandbox_client, "GET", f"{V}/me")
    assert error(throttled) == (400, 32, None)
    assert throttled.json()["error"]["is_transient"] is True
    [usage] = json.loads(throttled.headers["X-Business-Use-Case-Usage"])[page_id]
    assert usage["estimated_time_to_regain_access"] == 12 * 60  # 12:00 UTC until midnight


def test_an_injected_429_speaks_graph(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    page(sandbox_state)
    sandbox_state.faults.set("facebook", burst_429=1, burst_reset_seconds=150)
    response = call(sandbox_client, "POST", f"{V}/me/feed", json={"message": "x"})
    assert error(response) == (429, 32, None)
    [usage] = json.loads(response.headers["X-Business-Use-Case-Usage"])["me"]
    assert (usage["call_count"], usage["estimated_time_to_regain_access"]) == (100, 3)


def test_injected_server_errors_look_like_graphs(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("facebook", error_rates={500: 1.0})
    assert error(call(sandbox_client, "GET", f"{V}/me")) == (500, 1, None)
    sandbox_state.faults.set("facebook", error_rates={503: 1.0})
    assert error(call(sandbox_client, "GET", f"{V}/me")) == (503, 2, None)
    sandbox_state.faults.set("facebook", error_rates={502: 1.0})
    bad_gateway = call(sandbox_client, "GET", f"{V}/me")
    assert bad_gateway.status_code == 502
    assert bad_gateway.headers["content-type"].startswith("text/html")


# -- feed posts --------------------------------------------------------------------------


def test_a_feed_post_is_recorded_and_read_back(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    page_id = page(sandbox_state)
    created = call(
        sandbox_client,
        "POST",
        f"{V}/{page_id}/feed",
        json={"message": "Hello", "link": "https://a.example"},
    )
    assert created.status_code == 200
    post_id = created.json()["id"]
    assert post_id.startswith(f"{page_id}_")
    [post] = sandbox_state.accepted("facebook")
    assert (post.remote_id, post.text, post.handle) == (post_id, "Hello", "acme")
    assert post.extra["link"] == "https://a.example"
    read = call(
        sandbox_client,
        "GET",
        f"{V}/{post_id}",
        params={"fields": "message,permalink_url,created_time"},
    )
    assert read.json() == {
        "id": post_id,
        "message": "Hello",
        "permalink_url": f"http://sandbox.test/facebook/{page_id}/posts/{post_id.split('_')[1]}",
        "created_time": "2026-11-28T12:00:00+0000",
    }


def test_feed_validation(sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState) -> None:
    page_id = page(sandbox_state)
    feed = f"{V}/{page_id}/feed"
    assert error(call(sandbox_client, "POST", feed, json={"message": "x" * 63_207})) == (
        400,
        100,
        None,
    )
    assert call(sandbox_client, "POST", feed, json={"message": "é" * 63_206}).status_code == 200
    assert error(call(sandbox_client, "POST", feed, json={"message": "  "})) == (400, 100, None)
    other = call(sandbox_client, "POST", f"{V}/999/feed", json={"message": "x"})
    assert error(other) == (403, 200, None)
    assert len(sandbox_state.accepted("facebook")) == 1


def test_the_same_message_twice_within_a_day_is_a_duplicate(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    page_id = page(sandbox_state)
    feed = f"{V}/{page_id}/feed"
    assert call(sandbox_client, "POST", feed, data={"message": "same"}).status_code == 200
    duplicate = call(sandbox_client, "POST", feed, data={"message": "same"})
    assert error(duplicate) == (400, 506, None)
    assert "Duplicate" in duplicate.json()["error"]["message"]
    clock.advance(24 * 3600)
    assert call(sandbox_client, "POST", feed, data={"message": "same"}).status_code == 200


def test_a_scheduled_post_must_be_unpublished_and_in_range(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    page_id = page(sandbox_state)
    feed = f"{V}/{page_id}/feed"
    soon = int(clock.now().timestamp()) + 60
    later = int(clock.now().timestamp()) + 3600
    assert error(
        call(
            sandbox_client,
            "POST",
            feed,
            json={"message": "a", "published": False, "scheduled_publish_time": soon},
        )
    ) == (400, 100, None)
    assert error(
        call(sandbox_client, "POST", feed, json={"message": "a", "scheduled_publish_time": later})
    ) == (400, 100, None)
    ok = call(
        sandbox_client,
        "POST",
        feed,
        json={"message": "a", "published": False, "scheduled_publish_time": later},
    )
    assert ok.status_code == 200
    assert sandbox_state.accepted("facebook")[0].extra["scheduled_publish_time"] == later


# -- photos ------------------------------------------------------------------------------


def upload(
    client: httpx.AsyncClient, page_id: str, data: bytes, mime: str, **fields: str
) -> httpx.Response:
    return call(
        client,
        "POST",
        f"{V}/{page_id}/photos",
        files={"source": ("p.bin", data, mime)},
        data=fields,
    )


def test_unpublished_photos_are_attached_to_one_post(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, png: Callable[..., bytes]
) -> None:
    page_id = page(sandbox_state)
    first = upload(sandbox_client, page_id, png(8, 6), "image/png", published="false").json()
    second = upload(sandbox_client, page_id, png(4, 4), "image/png", published="false").json()
    assert set(first) == {"id"} and sandbox_state.accepted("facebook") == []
    body = {
        "message": "two photos",
        "attached_media[0]": json.dumps({"media_fbid": first["id"]}),
        "attached_media[1]": json.dumps({"media_fbid": second["id"]}),
    }
    assert call(sandbox_client, "POST", f"{V}/{page_id}/feed", data=body).status_code == 200
    [post] = sandbox_state.accepted("facebook")
    assert [(m.id, m.width, m.height) for m in post.media] == [
        (first["id"], 8, 6),
        (second["id"], 4, 4),
    ]
    again = call(
        sandbox_client,
        "POST",
        f"{V}/{page_id}/feed",
        json={"message": "reuse", "attached_media": [{"media_fbid": first["id"]}]},
    )
    assert error(again) == (400, 100, None)


def test_a_published_photo_is_a_post_of_its_own(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, png: Callable[..., bytes]
) -> None:
    page_id = page(sandbox_state)
    body = upload(sandbox_client, page_id, png(), "image/png", caption="look").json()
    [post] = sandbox_state.accepted("facebook")
    assert (post.remote_id, post.text, post.media[0].id) == (body["post_id"], "look", body["id"])


def test_photos_are_checked_like_facebook_does(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, png: Callable[..., bytes]
) -> None:
    page_id = page(sandbox_state)
    too_big = png() + b"\0" * (4 * 1024 * 1024)
    assert error(upload(sandbox_client, page_id, too_big, "image/png")) == (400, 100, 1366046)
    assert error(upload(sandbox_client, page_id, png(), "image/bmp")) == (400, 100, 1366046)
    assert error(upload(sandbox_client, page_id, b"not an image", "image/png")) == (400, 324, None)
    by_url = call(
        sandbox_client, "POST", f"{V}/{page_id}/photos", data={"url": "https://cdn.invalid/p.jpg"}
    )
    assert error(by_url) == (400, 324, None)


# -- videos and comments -----------------------------------------------------------------


def test_a_video_is_pulled_by_url_and_processed(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    page_id = page(sandbox_state)
    created = call(
        sandbox_client,
        "POST",
        f"{V}/{page_id}/videos",
        data={"file_url": "https://cdn.example/clip.mp4", "description": "a clip"},
    )
    video_id = created.json()["id"]
    statuses = [
        call(sandbox_client, "GET", f"{V}/{video_id}", params={"fields": "status"}).json()[
            "status"
        ]["video_status"]
        for _ in range(3)
    ]
    assert statuses == ["processing", "processing", "ready"]
    [post] = sandbox_state.accepted("facebook")
    assert (post.remote_id, post.text, post.media[0].filename) == (
        f"{page_id}_{video_id}",
        "a clip",
        "https://cdn.example/clip.mp4",
    )


def test_videos_that_cannot_be_fetched_or_read_are_refused(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    page_id = page(sandbox_state)
    videos = f"{V}/{page_id}/videos"
    assert error(
        call(sandbox_client, "POST", videos, data={"file_url": "https://x.invalid/a.mp4"})
    ) == (
        400,
        389,
        None,
    )
    assert error(
        call(sandbox_client, "POST", videos, data={"file_url": "https://x.example/a.txt"})
    ) == (
        400,
        352,
        None,
    )
    assert sandbox_state.accepted("facebook") == []


def test_comments_reply_to_the_pages_posts(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    page_id = page(sandbox_state)
    post_id = call(sandbox_client, "POST", f"{V}/{page_id}/feed", json={"message": "root"}).json()[
        "id"
    ]
    comment = call(sandbox_client, "POST", f"{V}/{post_id}/comments", json={"message": "more"})
    assert comment.status_code == 200
    root, reply = sandbox_state.accepted("facebook")
    assert (reply.remote_id, reply.reply_to, reply.text) == (
        comment.json()["id"],
        root.remote_id,
        "more",
    )
    unknown = call(sandbox_client, "POST", f"{V}/{page_id}_404/comments", json={"message": "x"})
    assert error(unknown) == (400, 100, 33)


def test_published_posts_are_paged_newest_first_without_comments(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    page_id = page(sandbox_state)
    ids = [
        call(sandbox_client, "POST", f"{V}/{page_id}/feed", json={"message": f"post {i}"}).json()[
            "id"
        ]
        for i in range(3)
    ]
    call(sandbox_client, "POST", f"{V}/{ids[0]}/comments", json={"message": "a comment"})
    first = call(
        sandbox_client, "GET", f"{V}/{page_id}/published_posts", params={"limit": "2"}
    ).json()
    assert [p["id"] for p in first["data"]] == [ids[2], ids[1]]
    assert first["data"][0]["message"] == "post 2"
    rest = asyncio.run(
        sandbox_client.get(
            first["paging"]["next"], headers={"Authorization": f"Bearer {PAGE_TOKEN}"}
        )
    ).json()
    assert [p["id"] for p in rest["data"]] == [ids[0]]
    assert "next" not in rest["paging"]
    other = call(sandbox_client, "GET", f"{V}/999/published_posts")
    assert error(other) == (400, 100, 33)


def test_a_dropped_feed_post_is_still_recorded(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    import pytest

    page_id = page(sandbox_state)
    sandbox_state.faults.set("facebook", drops=1)
    with pytest.raises(httpx.RemoteProtocolError):
        call(sandbox_client, "POST", f"{V}/{page_id}/feed", json={"message": "dropped"})
    assert [p.text for p in sandbox_state.accepted("facebook")] == ["dropped"]
