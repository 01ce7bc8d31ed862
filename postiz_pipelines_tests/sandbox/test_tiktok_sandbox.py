"""The TikTok emulator over HTTP: init's chunk rules, ordered chunks, creator checks, status
answers and the ``{data, error}`` envelope."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.tiktok_world import tiktok_world

TOKEN = "act.sandbox"
MB = 1024 * 1024


def post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], token: str = TOKEN
) -> httpx.Response:
    return asyncio.run(
        client.post(
            f"/tiktok/v2/post/publish/{path}/",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
    )


def init(
    client: httpx.AsyncClient, size: int, chunk: int, count: int, **info: Any
) -> httpx.Response:
    source = {
        "source": "FILE_UPLOAD",
        "video_size": size,
        "chunk_size": chunk,
        "total_chunk_count": count,
    }
    return post(
        client,
        "video/init",
        {"post_info": {"title": "t", "privacy_level": "SELF_ONLY", **info}, "source_info": source},
    )


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def test_init_enforces_the_chunk_rules(sandbox_client) -> None:  # type: ignore[no-untyped-def]
    assert code(init(sandbox_client, 4 * MB, 4 * MB, 1)) == "ok"
    assert (
        code(init(sandbox_client, 4 * MB, 2 * MB, 2)) == "invalid_params"
    )  # under 5 MB: one chunk
    assert code(init(sandbox_client, 12 * MB, 5 * MB, 2)) == "ok"  # the last takes 7 MB
    assert code(init(sandbox_client, 12 * MB, 5 * MB, 3)) == "invalid_params"
    assert code(init(sandbox_client, 200 * MB, 65 * MB, 3)) == "invalid_params"  # over 64 MB


def test_chunks_go_in_order_then_status_completes(
    sandbox_client, sandbox_state: SandboxState
) -> None:  # type: ignore[no-untyped-def]
    data = init(sandbox_client, 1000, 1000, 1).json()["data"]
    url = data["upload_url"].replace("http://sandbox.test", "")
    bad = asyncio.run(
        sandbox_client.put(url, content=b"x" * 10, headers={"Content-Range": "bytes 10-19/1000"})
    )
    assert bad.status_code == 400
    assert code(post(sandbox_client, "status/fetch", {"publish_id": data["publish_id"]})) == "ok"
    ok = asyncio.run(
        sandbox_client.put(url, content=b"x" * 1000, headers={"Content-Range": "bytes 0-999/1000"})
    )
    assert ok.status_code == 201
    statuses = [
        post(sandbox_client, "status/fetch", {"publish_id": data["publish_id"]}).json()["data"][
            "status"
        ]
        for _ in range(3)
    ]
    assert statuses == ["PROCESSING_UPLOAD", "PROCESSING_UPLOAD", "PUBLISH_COMPLETE"]
    assert len(sandbox_state.accepted("tiktok")) == 1
    assert (
        code(post(sandbox_client, "status/fetch", {"publish_id": "nope"})) == "invalid_publish_id"
    )


def test_creator_checks(sandbox_client, sandbox_state: SandboxState) -> None:  # type: ignore[no-untyped-def]
    account = sandbox_state.provision("tiktok", TOKEN)
    creator = tiktok_world(sandbox_state).creator(account.id)
    creator.duet_disabled, creator.privacy_level_options = True, ("SELF_ONLY",)
    info = post(sandbox_client, "creator_info/query", {}).json()["data"]
    assert info["duet_disabled"] is True and info["privacy_level_options"] == ["SELF_ONLY"]
    assert code(init(sandbox_client, 10, 10, 1, disable_duet=False)) == "invalid_params"
    assert (
        code(init(sandbox_client, 10, 10, 1, privacy_level="PUBLIC_TO_EVERYONE"))
        == "privacy_level_option_mismatch"
    )
    assert code(init(sandbox_client, 10, 10, 1, title="ü" * 2201)) == "invalid_params"
    denied = post(sandbox_client, "creator_info/query", {}, token="")
    assert denied.status_code == 401 and code(denied) == "access_token_invalid"


def test_photos_are_pulled_from_verified_urls(sandbox_client, sandbox_state: SandboxState) -> None:  # type: ignore[no-untyped-def]
    body = {
        "media_type": "PHOTO",
        "post_mode": "DIRECT_POST",
        "post_info": {"title": "p", "privacy_level": "SELF_ONLY"},
        "source_info": {"source": "PULL_FROM_URL", "photo_images": ["https://a.example/1.jpg"]},
    }
    assert code(post(sandbox_client, "content/init", body)) == "ok"
    tiktok_world(sandbox_state).verified_url_prefixes = ("https://b.example/",)
    assert code(post(sandbox_client, "content/init", body)) == "url_ownership_unverified"
    body["source_info"]["photo_images"] = []  # type: ignore[index]
    assert code(post(sandbox_client, "content/init", body)) == "invalid_params"
