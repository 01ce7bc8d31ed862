"""The Mastodon emulator through HTTP: each endpoint's success and error paths, the
Idempotency-Key, and the rate limit with its headers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.sandbox import SandboxState

M = "/mastodon"
Auth = Callable[[str], dict[str, str]]


def post_status(
    client: httpx.AsyncClient, token: str, key: str | None = None, **body: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return asyncio.run(client.post(f"{M}/api/v1/statuses", headers=headers, json=body))


def upload(
    client: httpx.AsyncClient, token: str, data: bytes, mime: str, **fields: str
) -> httpx.Response:
    return asyncio.run(
        client.post(
            f"{M}/api/v2/media",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("upload.bin", data, mime)},
            data=fields,
        )
    )


def get(client: httpx.AsyncClient, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return asyncio.run(client.get(M + path, headers=headers))


# -- instance and accounts -------------------------------------------------------------


def test_instance_publishes_the_default_limits_without_auth(
    sandbox_client: httpx.AsyncClient,
) -> None:
    response = get(sandbox_client, "/api/v2/instance")
    assert response.status_code == 200
    config = response.json()["configuration"]
    assert config["statuses"] == {
        "max_characters": 500,
        "max_media_attachments": 4,
        "characters_reserved_per_url": 23,
    }
    media = config["media_attachments"]
    assert media["image_size_limit"] == 16 * 1024 * 1024
    assert media["image_matrix_limit"] == 33_177_600
    assert media["video_size_limit"] == 103_809_024
    assert media["video_matrix_limit"] == 8_294_400
    assert {"image/png", "image/jpeg", "video/mp4"} <= set(media["supported_mime_types"])
    assert response.json()["domain"] == "sandbox.test"


def test_verify_credentials_provisions_an_unseen_token(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    first = get(sandbox_client, "/api/v1/accounts/verify_credentials", "tok-new")
    again = get(sandbox_client, "/api/v1/accounts/verify_credentials", "tok-new")
    other = get(sandbox_client, "/api/v1/accounts/verify_credentials", "tok-other")
    assert first.status_code == 200
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert first.json()["source"]["privacy"] == "public"
    assert first.json()["url"] == f"http://sandbox.test/mastodon/@{first.json()['username']}"


def test_verify_credentials_shows_a_provisioned_username(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    account = sandbox_state.provision("mastodon", "tok-alice", username="alice")
    body = get(sandbox_client, "/api/v1/accounts/verify_credentials", "tok-alice").json()
    assert (body["id"], body["username"], body["acct"]) == (account.id, "alice", "alice")


def test_auth_failures_use_mastodons_status_and_message(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    sandbox_state.revoke_token("mastodon", "tok-revoked")
    sandbox_state.expire_token("mastodon", "tok-expired")
    sandbox_state.provision("mastodon", "tok-disabled", disabled=True)
    path = "/api/v1/accounts/verify_credentials"
    cases = {
        None: (401, "The access token is invalid"),
        "tok-revoked": (401, "The access token was revoked"),
        "tok-expired": (401, "The access token expired"),
        "tok-disabled": (403, "Your login is currently disabled"),
    }
    for token, (status, message) in cases.items():
        response = get(sandbox_client, path, token)
        assert (response.status_code, response.json()) == (status, {"error": message}), token


# -- statuses --------------------------------------------------------------------------


def test_a_status_is_recorded_and_rendered_like_mastodon(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    sandbox_state.provision("mastodon", "tok-alice", username="alice")
    response = post_status(
        sandbox_client,
        "tok-alice",
        key="k-1",
        status="Hello <world>\n\nline",
        visibility="unlisted",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["content"] == "<p>Hello &lt;world&gt;</p><p>line</p>"
    assert body["visibility"] == "unlisted"
    assert body["url"] == f"http://sandbox.test/mastodon/@alice/{body['id']}"
    assert body["created_at"] == "2026-11-28T12:00:00.000Z"
    assert body["account"]["statuses_count"] == 1
    [post] = sandbox_state.accepted("mastodon")
    assert (post.remote_id, post.handle, post.text) == (
        body["id"],
        "alice",
        "Hello <world>\n\nline",
    )
    assert (post.idempotency_key, post.created_at) == ("k-1", clock.now())


def test_a_status_can_be_sent_as_a_form(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, auth: Auth
) -> None:
    response = asyncio.run(
        sandbox_client.post(
            f"{M}/api/v1/statuses",
            headers=auth("tok-a"),
            data={"status": "from a form", "sensitive": "true", "spoiler_text": "cw"},
        )
    )
    assert response.status_code == 200
    assert (response.json()["sensitive"], response.json()["spoiler_text"]) == (True, "cw")
    assert [p.text for p in sandbox_state.accepted("mastodon")] == ["from a form"]


def test_text_is_limited_to_500_characters_counted_like_mastodon(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    url = "https://example.com/" + "a" * 80  # counts 23, whatever its length (after a space)
    assert post_status(sandbox_client, "t", status="x" * 476 + " " + url).status_code == 200
    assert post_status(sandbox_client, "t", status="é" * 500).status_code == 200
    too_long = post_status(sandbox_client, "t", status="x" * 501)
    assert too_long.status_code == 422
    assert too_long.json() == {"error": "Validation failed: Text character limit of 500 exceeded"}
    with_warning = post_status(sandbox_client, "t", status="x" * 495, spoiler_text="123456")
    assert with_warning.status_code == 422
    assert len(sandbox_state.accepted("mastodon")) == 2


def test_status_validation_errors(sandbox_client: httpx.AsyncClient) -> None:
    blank = post_status(sandbox_client, "t", status="   ")
    assert (blank.status_code, blank.json()["error"]) == (
        422,
        "Validation failed: Text can't be blank",
    )
    visibility = post_status(sandbox_client, "t", status="x", visibility="everyone")
    assert visibility.status_code == 422
    unknown_media = post_status(sandbox_client, "t", status="x", media_ids=["999"])
    assert unknown_media.status_code == 422
    assert "999" in unknown_media.json()["error"]
    reply = post_status(sandbox_client, "t", status="x", in_reply_to_id="123")
    assert (reply.status_code, reply.json()) == (404, {"error": "Record not found"})
    broken = asyncio.run(
        sandbox_client.post(
            f"{M}/api/v1/statuses",
            headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
            content=b"{not json",
        )
    )
    assert broken.status_code == 400
    no_auth = asyncio.run(sandbox_client.post(f"{M}/api/v1/statuses", json={"status": "x"}))
    assert no_auth.status_code == 401


def test_a_reply_links_to_its_parent(sandbox_client: httpx.AsyncClient) -> None:
    parent = post_status(sandbox_client, "t", status="first").json()
    reply = post_status(sandbox_client, "t", status="second", in_reply_to_id=parent["id"]).json()
    assert reply["in_reply_to_id"] == parent["id"]
    assert reply["in_reply_to_account_id"] == parent["account"]["id"]


def test_idempotency_key_returns_the_original_status_for_an_hour(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    first = post_status(sandbox_client, "tok-a", key="key-1", status="once").json()
    clock.advance(3599)
    again = post_status(sandbox_client, "tok-a", key="key-1", status="changed text").json()
    assert again["id"] == first["id"]
    assert again["content"] == "<p>once</p>"
    assert len(sandbox_state.accepted("mastodon")) == 1

    other_account = post_status(sandbox_client, "tok-b", key="key-1", status="once").json()
    other_key = post_status(sandbox_client, "tok-a", key="key-2", status="once").json()
    clock.advance(2)
    after_an_hour = post_status(sandbox_client, "tok-a", key="key-1", status="once").json()
    ids = {first["id"], other_account["id"], other_key["id"], after_an_hour["id"]}
    assert len(ids) == 4
    assert len(sandbox_state.accepted("mastodon")) == 4


# -- rate limits -----------------------------------------------------------------------


def test_rate_limit_headers_count_down_then_429_until_the_window_resets(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    sandbox_state.override_rate_limit("mastodon", "api", limit=3, per_seconds=300)
    path = "/api/v1/accounts/verify_credentials"
    responses = [get(sandbox_client, path, "tok-a") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert {r.headers["X-RateLimit-Limit"] for r in responses} == {"3"}
    assert responses[-1].json() == {"error": "Too many requests"}
    # Windows are aligned to multiples of 300 s; the clock stands at 12:00:00.
    assert responses[-1].headers["X-RateLimit-Reset"] == "2026-11-28T12:05:00.000Z"
    assert get(sandbox_client, path, "tok-b").status_code == 200  # per account
    clock.advance(300)
    assert get(sandbox_client, path, "tok-a").status_code == 200


def test_default_budget_is_300_requests_per_account(
    sandbox_client: httpx.AsyncClient,
) -> None:
    async def burst() -> list[httpx.Response]:
        headers = {"Authorization": "Bearer tok-a"}
        path = f"{M}/api/v1/accounts/verify_credentials"
        return [await sandbox_client.get(path, headers=headers) for _ in range(301)]

    responses = asyncio.run(burst())
    assert responses[0].headers["X-RateLimit-Limit"] == "300"
    assert [r.status_code for r in responses[:300]] == [200] * 300
    assert responses[300].status_code == 429


# -- media -----------------------------------------------------------------------------


def test_an_image_is_processed_synchronously(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, png: Callable[..., bytes]
) -> None:
    response = upload(sandbox_client, "t", png(40, 30), "image/png", description="a red square")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "image"
    assert body["url"].endswith(f"/media_attachments/files/{body['id']}/original")
    assert body["meta"]["original"]["size"] == "40x30"
    assert body["description"] == "a red square"
    status = post_status(sandbox_client, "t", status="pic", media_ids=[body["id"]])
    assert status.status_code == 200
    assert status.json()["media_attachments"][0]["id"] == body["id"]
    [post] = sandbox_state.accepted("mastodon")
    assert [(m.id, m.width, m.height) for m in post.media] == [(body["id"], 40, 30)]


def test_a_video_is_processed_asynchronously_and_polled(
    sandbox_client: httpx.AsyncClient,
) -> None:
    response = upload(sandbox_client, "t", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4")
    assert response.status_code == 202
    media_id = response.json()["id"]
    assert (response.json()["type"], response.json()["url"]) == ("video", None)

    early = post_status(sandbox_client, "t", status="video", media_ids=[media_id])
    assert early.status_code == 422
    assert "not finished processing" in early.json()["error"]

    polls = [get(sandbox_client, f"/api/v1/media/{media_id}", "t") for _ in range(3)]
    assert [p.status_code for p in polls] == [206, 206, 200]
    assert polls[0].json()["url"] is None
    assert polls[2].json()["url"] is not None
    assert post_status(sandbox_client, "t", status="v", media_ids=[media_id]).status_code == 200


def test_media_validation_errors(
    sandbox_client: httpx.AsyncClient, png: Callable[..., bytes]
) -> None:
    cases = [
        (b"%PDF-1.4", "application/pdf", {}, "File content type is invalid"),
        (b"not a png", "image/png", {}, "File could not be processed"),
        (png(), "image/png", {"description": "d" * 1501}, "Description is too long"),
        (png(), "image/png", {"focus": "2,0"}, "Focus is invalid"),
        (b"\x00" * (16 * 1024 * 1024 + 1), "image/png", {}, "must be less than 16 MB"),
    ]
    for data, mime, fields, message in cases:
        response = upload(sandbox_client, "t", data, mime, **fields)
        assert response.status_code == 422, message
        assert message in response.json()["error"]
    empty = asyncio.run(
        sandbox_client.post(
            f"{M}/api/v2/media", headers={"Authorization": "Bearer t"}, data={"description": "x"}
        )
    )
    assert empty.json() == {"error": "Validation failed: File can't be blank"}


def test_attaching_media_follows_mastodons_rules(
    sandbox_client: httpx.AsyncClient, png: Callable[..., bytes]
) -> None:
    ids = [upload(sandbox_client, "t", png(), "image/png").json()["id"] for _ in range(5)]
    too_many = post_status(sandbox_client, "t", status="x", media_ids=ids)
    assert (too_many.status_code, too_many.json()["error"]) == (
        422,
        "Cannot attach more than 4 files",
    )
    someone_elses = post_status(sandbox_client, "other", status="x", media_ids=ids[:1])
    assert someone_elses.status_code == 422
    assert post_status(sandbox_client, "t", status="x", media_ids=ids[:2]).status_code == 200
    reused = post_status(sandbox_client, "t", status="x", media_ids=ids[:1])
    assert "already attached" in reused.json()["error"]
    assert get(sandbox_client, f"/api/v1/media/{ids[0]}", "other").status_code == 404


# -- account statuses ------------------------------------------------------------------


def test_account_statuses_newest_first_with_paging_and_visibility(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    account = sandbox_state.provision("mastodon", "tok-a", username="alice")
    ids = [post_status(sandbox_client, "tok-a", status=f"n{i}").json()["id"] for i in range(4)]
    post_status(sandbox_client, "tok-a", status="secret", visibility="private")
    post_status(sandbox_client, "tok-a", status="reply", in_reply_to_id=ids[0])
    post_status(sandbox_client, "tok-b", status="someone else")
    base = f"/api/v1/accounts/{account.id}/statuses"

    def texts(response: httpx.Response) -> list[str]:
        return [s["content"] for s in response.json()]

    anonymous = get(sandbox_client, f"{base}?exclude_replies=true")
    assert texts(anonymous) == ["<p>n3</p>", "<p>n2</p>", "<p>n1</p>", "<p>n0</p>"]
    owner = get(sandbox_client, f"{base}?limit=2", "tok-a")
    assert texts(owner) == ["<p>reply</p>", "<p>secret</p>"]
    page = get(sandbox_client, f"{base}?limit=2&max_id={ids[2]}", "tok-a")
    assert texts(page) == ["<p>n1</p>", "<p>n0</p>"]
    assert get(sandbox_client, "/api/v1/accounts/424242/statuses").status_code == 404
