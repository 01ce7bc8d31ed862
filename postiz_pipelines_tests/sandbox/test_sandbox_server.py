"""The sandbox over real TCP: faults surface exactly as a socket shows them, and the server
stops cleanly."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.server import running_sandbox

TOKEN = {"Authorization": "Bearer tok-a"}


def test_accept_then_drop_over_tcp_records_once_and_the_key_recovers_it() -> None:
    async def scenario(url: str) -> tuple[str, list[dict[str, object]]]:
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            put = await client.put("/_sandbox/mastodon/faults", json={"drops": 1})
            assert put.status_code == 200
            headers = {**TOKEN, "Idempotency-Key": "k-tcp"}
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(
                    "/mastodon/api/v1/statuses", headers=headers, json={"status": "hi"}
                )
            retry = await client.post(
                "/mastodon/api/v1/statuses", headers=headers, json={"status": "hi"}
            )
            assert retry.status_code == 200
            posts = (await client.get("/_sandbox/mastodon/posts")).json()["posts"]
            return retry.json()["id"], posts

    with running_sandbox() as url:
        remote_id, posts = asyncio.run(scenario(url))
    assert [p["remote_id"] for p in posts] == [remote_id]


def test_a_hang_over_tcp_is_a_read_timeout_and_records_nothing() -> None:
    state = SandboxState()
    state.faults.set("mastodon", timeouts=1)

    async def scenario(url: str) -> int:
        async with httpx.AsyncClient(base_url=url, timeout=0.3) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post("/mastodon/api/v1/statuses", headers=TOKEN, json={"status": "x"})
            after = await client.post(
                "/mastodon/api/v1/statuses", headers=TOKEN, json={"status": "y"}
            )
            return after.status_code

    with running_sandbox(state=state) as url:
        assert asyncio.run(scenario(url)) == 200
    assert [p.text for p in state.accepted("mastodon")] == ["y"]


def test_the_server_stops_cleanly() -> None:
    with running_sandbox() as url:
        assert httpx.get(f"{url}/_sandbox/health").json() == {"ok": True}
        names = {t.name for t in threading.enumerate()}
        port = url.rsplit(":", 1)[1]
        assert f"sandbox:{port}" in names
    assert f"sandbox:{port}" not in {t.name for t in threading.enumerate()}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_sandbox/health", timeout=1)


def test_the_server_stops_even_with_a_request_left_hanging() -> None:
    state = SandboxState()
    state.faults.set("mastodon", timeouts=-1)
    outcome: list[BaseException | int] = []
    with running_sandbox(state=state) as url:
        client = threading.Thread(target=_hang_on, args=(url, outcome))
        client.start()
        # Stop only once the request is hanging inside the server (a condition, polled).
        arrived = threading.Event()
        for _ in range(1000):
            if state.request_count("mastodon", "GET /api/v2/instance"):
                break
            arrived.wait(0.01)
        assert state.request_count("mastodon", "GET /api/v2/instance") == 1
    client.join(10)
    assert not client.is_alive()
    assert len(outcome) == 1  # the client was answered or cut off; it did not wait 30 s


def _hang_on(url: str, outcome: list[BaseException | int]) -> None:
    try:
        outcome.append(httpx.get(f"{url}/mastodon/api/v2/instance", timeout=30).status_code)
    except httpx.HTTPError as exc:
        outcome.append(exc)
