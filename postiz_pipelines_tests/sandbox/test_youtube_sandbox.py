"""The YouTube emulator over HTTP: the resumable protocol's rules, metadata checks, quota,
the token endpoint and Google's error bodies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.oauth2 import give_refresh_token
from postiz_pipelines.sandbox.youtube_world import youtube_world

TOKEN = "ya29.sandbox-channel"
KIB = 1024


def initiate(
    client: httpx.AsyncClient, auth: Callable[[str], dict[str, str]], size: int, **snippet: Any
) -> httpx.Response:
    meta = {
        "snippet": {"title": "A title", **snippet},
        "status": snippet.pop("status", {"privacyStatus": "private"}),
    }
    return asyncio.run(
        client.post(
            "/youtube/upload/youtube/v3/videos",
            params={"uploadType": "resumable", "part": "snippet,status"},
            json=meta,
            headers={
                **auth(TOKEN),
                "X-Upload-Content-Length": str(size),
                "X-Upload-Content-Type": "video/mp4",
            },
        )
    )


def put(client: httpx.AsyncClient, url: str, data: bytes, content_range: str) -> httpx.Response:
    return asyncio.run(client.put(url, content=data, headers={"Content-Range": content_range}))


def reason(response: httpx.Response) -> str:
    return str(response.json()["error"]["errors"][0]["reason"])


def test_chunks_then_a_status_query_then_the_video(
    sandbox_client, auth, sandbox_state: SandboxState
) -> None:  # type: ignore[no-untyped-def]
    size = 300 * KIB
    start = initiate(sandbox_client, auth, size)
    assert start.status_code == 200
    url = start.headers["location"]
    assert put(sandbox_client, url, b"", f"bytes */{size}").status_code == 308
    first = put(sandbox_client, url, b"a" * 256 * KIB, f"bytes 0-{256 * KIB - 1}/{size}")
    assert (first.status_code, first.headers["range"]) == (308, f"bytes=0-{256 * KIB - 1}")
    query = put(sandbox_client, url, b"", f"bytes */{size}")
    assert query.headers["range"] == f"bytes=0-{256 * KIB - 1}"
    last = put(sandbox_client, url, b"b" * 44 * KIB, f"bytes {256 * KIB}-{size - 1}/{size}")
    assert last.status_code == 200
    video = last.json()
    assert video["snippet"]["title"] == "A title" and video["status"]["privacyStatus"] == "private"
    again = put(sandbox_client, url, b"", f"bytes */{size}")
    assert again.status_code == 200 and again.json()["id"] == video["id"]
    assert len(sandbox_state.accepted("youtube")) == 1


def test_chunk_rules(sandbox_client, auth) -> None:  # type: ignore[no-untyped-def]
    size = 600 * KIB
    url = initiate(sandbox_client, auth, size).headers["location"]
    odd = put(sandbox_client, url, b"a" * 100 * KIB, f"bytes 0-{100 * KIB - 1}/{size}")
    assert (odd.status_code, reason(odd)) == (400, "invalidChunkSize")
    gap = put(sandbox_client, url, b"a" * 256 * KIB, f"bytes {256 * KIB}-{512 * KIB - 1}/{size}")
    assert gap.status_code == 400 and "only 0 bytes are kept" in gap.json()["error"]["message"]
    wrong_total = put(sandbox_client, url, b"a" * 256 * KIB, f"bytes 0-{256 * KIB - 1}/{size + 1}")
    assert reason(wrong_total) == "invalidContentRange"
    gone = put(sandbox_client, url.replace("upload_id=", "upload_id=x"), b"", f"bytes */{size}")
    assert gone.status_code == 404


def test_metadata_rules(sandbox_client, auth) -> None:  # type: ignore[no-untyped-def]
    assert reason(initiate(sandbox_client, auth, 10, title="t" * 101)) == "invalidTitle"
    assert reason(initiate(sandbox_client, auth, 10, title="<b>")) == "invalidTitle"
    assert reason(initiate(sandbox_client, auth, 10, title="  ")) == "invalidTitle"
    assert (
        reason(initiate(sandbox_client, auth, 10, description="é" * 2501)) == "invalidDescription"
    )
    assert initiate(sandbox_client, auth, 10, description="é" * 2500).status_code == 200
    assert reason(initiate(sandbox_client, auth, 10, tags=["two words"] * 46)) == "invalidTags"
    assert reason(initiate(sandbox_client, auth, 10, categoryId="99")) == "invalidCategoryId"
    public_later = {"privacyStatus": "public", "publishAt": "2030-01-01T00:00:00Z"}
    assert reason(initiate(sandbox_client, auth, 10, status=public_later)) == "invalidPublishAt"


def test_an_unaudited_projects_public_upload_is_kept_private(
    sandbox_client, auth, sandbox_state
) -> None:  # type: ignore[no-untyped-def]
    url = initiate(sandbox_client, auth, 4, status={"privacyStatus": "public"}).headers["location"]
    video = put(sandbox_client, url, b"abcd", "bytes 0-3/4").json()
    assert video["status"]["privacyStatus"] == "private"
    assert sandbox_state.accepted("youtube")[0].extra["locked_private"] is True


def test_quota_is_spent_per_call_and_refused_past_the_budget(
    sandbox_client, auth, sandbox_state
) -> None:  # type: ignore[no-untyped-def]
    youtube_world(sandbox_state).daily_units = 1601
    assert initiate(sandbox_client, auth, 4).status_code == 200
    refused = initiate(sandbox_client, auth, 4)
    assert (refused.status_code, reason(refused)) == (403, "quotaExceeded")
    assert refused.json()["error"]["errors"][0]["domain"] == "youtube.quota"
    lists = asyncio.run(
        sandbox_client.get(
            "/youtube/youtube/v3/channels",
            params={"mine": "true", "part": "id"},
            headers=auth(TOKEN),
        )
    )
    assert lists.status_code == 200  # 1 unit still fits
    assert (
        reason(
            asyncio.run(
                sandbox_client.get(
                    "/youtube/youtube/v3/channels", params={"mine": "true"}, headers=auth(TOKEN)
                )
            )
        )
        == "quotaExceeded"
    )


def test_tokens(sandbox_client, auth, sandbox_state: SandboxState) -> None:  # type: ignore[no-untyped-def]
    bad = asyncio.run(
        sandbox_client.get(
            "/youtube/youtube/v3/channels", params={"mine": "true"}, headers=auth("")
        )
    )
    assert bad.status_code == 401
    account = sandbox_state.provision("youtube", TOKEN)
    give_refresh_token(sandbox_state, "youtube", account.id, "1//r")
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "1//r",
        "client_id": "c",
        "client_secret": "s",
    }
    ok = asyncio.run(sandbox_client.post("/youtube/token", data=form))
    assert ok.status_code == 200 and "refresh_token" not in ok.json()
    me = asyncio.run(
        sandbox_client.get(
            "/youtube/youtube/v3/channels",
            params={"mine": "true"},
            headers=auth(ok.json()["access_token"]),
        )
    )
    assert me.json()["items"][0]["id"].startswith("UC")
    sandbox_state.clock.advance(3601)  # type: ignore[attr-defined]
    late = asyncio.run(
        sandbox_client.get(
            "/youtube/youtube/v3/channels",
            params={"mine": "true"},
            headers=auth(ok.json()["access_token"]),
        )
    )
    assert (late.status_code, reason(late)) == (401, "authError")
    unknown = asyncio.run(
        sandbox_client.post("/youtube/token", data={**form, "refresh_token": "nope"})
    )
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")
    anonymous = asyncio.run(
        sandbox_client.post("/youtube/token", data={"grant_type": "refresh_token"})
    )
    assert anonymous.json()["error"] == "invalid_client"


def test_the_control_api_files_refresh_tokens(sandbox_client, sandbox_state: SandboxState) -> None:  # type: ignore[no-untyped-def]
    account = sandbox_state.provision("youtube", TOKEN)
    url = "/_sandbox/youtube/refresh-tokens"
    filed = asyncio.run(
        sandbox_client.post(url, json={"token": "1//ctl", "account_id": account.id})
    )
    assert filed.status_code == 201
    unknown = asyncio.run(sandbox_client.post(url, json={"token": "1//x", "account_id": "nope"}))
    assert unknown.status_code == 404
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "1//ctl",
        "client_id": "c",
        "client_secret": "s",
    }
    assert asyncio.run(sandbox_client.post("/youtube/token", data=form)).status_code == 200
