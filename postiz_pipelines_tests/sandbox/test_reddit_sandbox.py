"""The Reddit emulator over HTTP: the User-Agent rule, X-Ratelimit headers, the JSON error
arrays of ``/api/submit``, post requirements and the asset lease."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from postiz_pipelines.sandbox import SandboxState

TOKEN = "eyJ-sandbox"
AGENT = "web:sandbox-tests:1.0 (by /u/tester)"


def call(
    client: httpx.AsyncClient, method: str, path: str, agent: str = AGENT, **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", "User-Agent": agent}
    return asyncio.run(client.request(method, f"/reddit{path}", headers=headers, **kw))


def submit(client: httpx.AsyncClient, **form: str) -> list[Any]:
    data = {"api_type": "json", "sr": "test", "kind": "self", "title": "A title", **form}
    return call(client, "POST", "/api/submit", data=data).json()["json"]["errors"]


def test_user_agent_and_rate_headers(sandbox_client) -> None:  # type: ignore[no-untyped-def]
    assert call(sandbox_client, "GET", "/api/v1/me", agent="python-httpx/0.28.1").status_code == 429
    ok = call(sandbox_client, "GET", "/api/v1/me")
    assert ok.status_code == 200
    assert (ok.headers["x-ratelimit-used"], ok.headers["x-ratelimit-remaining"]) == ("1", "599.0")


def test_submit_error_arrays(sandbox_client, sandbox_state: SandboxState) -> None:  # type: ignore[no-untyped-def]
    assert submit(sandbox_client, sr="nowhere")[0][0] == "SUBREDDIT_NOEXIST"
    assert submit(sandbox_client, sr="pics")[0][0] == "NO_SELFS"
    assert submit(sandbox_client, title="t" * 301)[0][0] == "TOO_LONG"
    assert (
        submit(sandbox_client, sr="AskReddit", title="A long enough title")[0][0]
        == "SUBMIT_VALIDATION_FLAIR_REQUIRED"
    )
    assert submit(sandbox_client, kind="image", url="https://example.org/x.png")[0][0] == "BAD_URL"
    assert submit(sandbox_client, kind="link", url="https://example.org/a") == []
    assert submit(sandbox_client, kind="link", url="https://example.org/a")[0][0] == "ALREADY_SUB"
    requirements = call(sandbox_client, "GET", "/api/v1/AskReddit/post_requirements").json()
    assert requirements["is_flair_required"] is True and requirements["title_text_min_length"] == 10


def test_asset_lease_then_upload(sandbox_client) -> None:  # type: ignore[no-untyped-def]
    lease = call(
        sandbox_client,
        "POST",
        "/api/media/asset.json",
        data={"filepath": "a.png", "mimetype": "image/png"},
    ).json()
    fields = {f["name"]: f["value"] for f in lease["args"]["fields"]}
    action = lease["args"]["action"].replace("http://sandbox.test", "")
    up = asyncio.run(
        sandbox_client.post(
            action, data=fields, files={"file": ("a.png", b"\x89PNG....", "image/png")}
        )
    )
    assert up.status_code == 201 and "<Location>https://i.redd.it/" in up.text
    forged = asyncio.run(
        sandbox_client.post(
            action, data={"key": "rte_images/zzz/a.png"}, files={"file": ("a", b"x")}
        )
    )
    assert forged.status_code == 403
    assert (
        call(
            sandbox_client,
            "POST",
            "/api/media/asset.json",
            data={"filepath": "a.exe", "mimetype": "application/x"},
        ).status_code
        == 400
    )
