"""The Pinterest emulator over HTTP: pin limits, media sources, rate headers, errors."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx

from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.pinterest import board_id

TOKEN = "pina_sandbox"


def pin(client: httpx.AsyncClient, board: str, **body: Any) -> httpx.Response:
    data = {
        "board_id": board,
        "media_source": {"source_type": "image_url", "url": "https://x.example/a.jpg"},
        **body,
    }
    return asyncio.run(
        client.post("/pinterest/v5/pins", json=data, headers={"Authorization": f"Bearer {TOKEN}"})
    )


def test_pin_rules_and_headers(sandbox_client, sandbox_state: SandboxState, png) -> None:  # type: ignore[no-untyped-def]
    board = board_id(sandbox_state.provision("pinterest", TOKEN))
    ok = pin(sandbox_client, board, title="t" * 100, description="d" * 500)
    assert ok.status_code == 201 and int(ok.headers["x-ratelimit-remaining"]) == 999
    assert 0 < int(ok.headers["x-ratelimit-reset"]) <= 86400
    for field, value in (
        ("title", "t" * 101),
        ("description", "d" * 501),
        ("alt_text", "a" * 501),
        ("link", "l" * 2049),
    ):
        refused = pin(sandbox_client, board, **{field: value})
        assert (refused.status_code, refused.json()["code"]) == (400, 1), field
    assert pin(sandbox_client, "123").json() == {"code": 3, "message": "Board not found."}
    good = {
        "source_type": "image_base64",
        "content_type": "image/png",
        "data": base64.b64encode(png()).decode(),
    }
    assert pin(sandbox_client, board, media_source=good).status_code == 201
    lying = {**good, "content_type": "image/jpeg"}
    assert pin(sandbox_client, board, media_source=lying).status_code == 400
    video = {"source_type": "video_id", "media_id": "404"}
    assert pin(sandbox_client, board, media_source=video).status_code == 400
    anonymous = asyncio.run(sandbox_client.get("/pinterest/v5/boards"))
    assert anonymous.json()["code"] == 2


def test_an_image_url_must_be_reachable_and_name_an_image(sandbox_client, sandbox_state) -> None:  # type: ignore[no-untyped-def]
    board = board_id(sandbox_state.provision("pinterest", TOKEN))
    signed = "https://posts.example/api/postiz/media/var_1/file.jpg?expires=1&signature=ab"

    def source(url: str) -> dict[str, str]:
        return {"source_type": "image_url", "url": url}

    assert pin(sandbox_client, board, media_source=source(signed)).status_code == 201
    assert sandbox_state.accepted("pinterest")[-1].extra["image_url"] == signed
    for bad in ("ftp://x.example/a.jpg", "https://cdn.invalid/a.jpg", "https:///a.jpg"):
        refused = pin(sandbox_client, board, media_source=source(bad))
        assert refused.json()["message"] == "Unable to reach the URL.", bad
    pdf = pin(sandbox_client, board, media_source=source("https://x.example/menü.pdf"))
    assert pdf.status_code == 400 and "application/pdf" in pdf.json()["message"]
