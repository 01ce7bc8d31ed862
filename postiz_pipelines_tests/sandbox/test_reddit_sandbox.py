"""The Reddit emulator over HTTP: the User-Agent rule, X-Ratelimit headers, the JSON error
arrays of ``/api/submit``, post requirements and the asset lease."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

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


def test_praw_speaks_to_the_emulator() -> None:
    """Reddit's maintained client (PRAW) refreshes, reads post requirements, submits, lists
    the user's submissions and reads a RATELIMIT error array, over TCP."""
    import praw
    from praw.exceptions import RedditAPIException

    from postiz_pipelines.sandbox.oauth2 import give_refresh_token
    from postiz_pipelines.sandbox.reddit_world import reddit_world
    from postiz_pipelines.sandbox.server import running_sandbox

    state = SandboxState(seed=1)
    user = state.provision("reddit", "unused-access-token", username="demo")
    give_refresh_token(state, "reddit", user.id, "rr.demo")
    with running_sandbox(state=state) as url:
        reddit = praw.Reddit(
            client_id="cid",
            client_secret="csecret",
            refresh_token="rr.demo",
            user_agent="python:postiz-tests:1.0 (by /u/demo)",
            oauth_url=f"{url}/reddit/",
            reddit_url=f"{url}/reddit",
            check_for_updates=False,
        )
        assert str(reddit.user.me()) == "demo"
        assert reddit.subreddit("AskReddit").post_requirements()["is_flair_required"] is True
        submission = reddit.subreddit("test").submit(
            "Hallo aus PRAW ✨", selftext="body", nsfw=True
        )
        assert [s.id for s in reddit.redditor("demo").submissions.new(limit=5)] == [submission.id]
        reddit_world(state).posts_per_hour = 1
        with pytest.raises(RedditAPIException) as caught:
            reddit.subreddit("test").submit("Second", selftext="x")
        assert caught.value.items[0].error_type == "RATELIMIT"
    [post] = state.accepted("reddit")
    assert post.extra["nsfw"] is True and "PRAW/" in post.extra["user_agent"]
