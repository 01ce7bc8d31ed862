"""Each fault kind, in-process through ``SandboxTransport``, as a client sees it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport, create_app

STATUSES = "/mastodon/api/v1/statuses"
INSTANCE = "/mastodon/api/v2/instance"
TOKEN = {"Authorization": "Bearer tok-a"}


def call(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
    return asyncio.run(client.request(method, path, **kw))


def publish(client: httpx.AsyncClient, text: str, key: str | None = None) -> httpx.Response:
    headers = {**TOKEN, **({"Idempotency-Key": key} if key else {})}
    return call(client, "POST", STATUSES, headers=headers, json={"status": text})


def quick_client(app: Starlette, timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=SandboxTransport(app, timeout=timeout), base_url="http://s")


def test_latency_delays_the_answer_past_a_short_timeout(
    sandbox_state: SandboxState, sandbox_app: Starlette
) -> None:
    sandbox_state.faults.set("mastodon", latency_ms=300)
    with pytest.raises(httpx.ReadTimeout):
        call(quick_client(sandbox_app, timeout=0.05), "GET", INSTANCE)
    assert call(quick_client(sandbox_app, timeout=5), "GET", INSTANCE).status_code == 200


def test_transport_honours_the_clients_read_timeout_when_it_has_none(
    sandbox_state: SandboxState, sandbox_app: Starlette
) -> None:
    sandbox_state.faults.set("mastodon", timeouts=1)
    client = httpx.AsyncClient(
        transport=SandboxTransport(sandbox_app), base_url="http://s", timeout=0.05
    )
    with pytest.raises(httpx.ReadTimeout):
        call(client, "GET", INSTANCE)


def test_error_rates_are_reproducible_with_a_seed(clock: Any) -> None:
    def statuses(seed: int) -> list[int]:
        state = SandboxState(clock=clock)
        state.faults.set("mastodon", error_rates={503: 0.3, 500: 0.2}, seed=seed)
        client = quick_client(create_app(state), timeout=5)
        return [call(client, "GET", INSTANCE).status_code for _ in range(60)]

    first = statuses(seed=11)
    assert first == statuses(seed=11)
    assert first != statuses(seed=12)
    assert {200, 500, 503} == set(first)
    assert 10 <= first.count(503) <= 30  # about 30% of 60


def test_injected_errors_use_the_platforms_bodies(
    sandbox_state: SandboxState, sandbox_client: httpx.AsyncClient
) -> None:
    sandbox_state.faults.set("mastodon", error_rates={503: 1.0})
    unavailable = call(sandbox_client, "GET", INSTANCE)
    assert unavailable.status_code == 503
    assert "temporary problem" in unavailable.json()["error"]
    sandbox_state.faults.set("mastodon", error_rates={502: 1.0})
    gateway = call(sandbox_client, "GET", INSTANCE)
    assert gateway.status_code == 502
    assert gateway.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in gateway.text


def test_a_burst_of_429s_carries_reset_headers_then_passes(
    sandbox_state: SandboxState, sandbox_client: httpx.AsyncClient
) -> None:
    sandbox_state.faults.set("mastodon", burst_429=2, burst_reset_seconds=30)
    responses = [publish(sandbox_client, f"p{i}") for i in range(3)]
    assert [r.status_code for r in responses] == [429, 429, 200]
    limited = responses[0]
    assert limited.json() == {"error": "Too many requests"}
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"] == "2026-11-28T12:00:30.000Z"
    assert [p.text for p in sandbox_state.accepted("mastodon")] == ["p2"]
    assert sandbox_state.faults.get("mastodon").burst_429 == 0


def test_a_timeout_records_nothing_and_the_next_request_passes(
    sandbox_state: SandboxState, sandbox_app: Starlette
) -> None:
    sandbox_state.faults.set("mastodon", timeouts=1)
    client = quick_client(sandbox_app, timeout=0.05)
    with pytest.raises(httpx.ReadTimeout):
        publish(client, "lost")
    assert sandbox_state.accepted("mastodon") == []
    assert publish(client, "kept").status_code == 200
    assert sandbox_state.request_count("mastodon", "POST /api/v1/statuses") == 2


def test_accept_then_drop_records_the_post_and_the_key_finds_it_again(
    sandbox_state: SandboxState, sandbox_client: httpx.AsyncClient
) -> None:
    sandbox_state.faults.set("mastodon", drops=1)
    with pytest.raises(httpx.RemoteProtocolError):
        publish(sandbox_client, "hello", key="k1")
    [post] = sandbox_state.accepted("mastodon")
    retry = publish(sandbox_client, "hello", key="k1")
    assert retry.status_code == 200
    assert retry.json()["id"] == post.remote_id
    assert len(sandbox_state.accepted("mastodon")) == 1


def test_drops_apply_only_to_successful_publishes(
    sandbox_state: SandboxState, sandbox_client: httpx.AsyncClient
) -> None:
    sandbox_state.faults.set("mastodon", drops=1)
    assert call(sandbox_client, "GET", INSTANCE).status_code == 200
    assert publish(sandbox_client, "").status_code == 422  # refused: nothing to drop
    assert sandbox_state.faults.get("mastodon").drops == 1
    with pytest.raises(httpx.RemoteProtocolError):
        publish(sandbox_client, "accepted")


def test_outage_fails_every_call_until_reset(
    sandbox_state: SandboxState, sandbox_client: httpx.AsyncClient
) -> None:
    sandbox_state.faults.set("mastodon", outage=True)
    assert [call(sandbox_client, "GET", INSTANCE).status_code for _ in range(3)] == [503] * 3
    assert publish(sandbox_client, "x").status_code == 503
    assert sandbox_state.accepted("mastodon") == []
    sandbox_state.faults.reset("mastodon")
    assert publish(sandbox_client, "x").status_code == 200


def test_faults_can_target_one_endpoint(
    sandbox_state: SandboxState, sandbox_client: httpx.AsyncClient
) -> None:
    sandbox_state.faults.set("mastodon", outage=True, endpoints={"POST /api/v1/statuses"})
    assert call(sandbox_client, "GET", INSTANCE).status_code == 200
    assert publish(sandbox_client, "x").status_code == 503


def test_faulted_requests_are_still_counted(
    sandbox_state: SandboxState, sandbox_client: httpx.AsyncClient
) -> None:
    sandbox_state.faults.set("mastodon", outage=True)
    for _ in range(2):
        call(sandbox_client, "GET", INSTANCE)
    assert sandbox_state.request_counts("mastodon") == {"GET /api/v2/instance": 2}


@pytest.mark.parametrize(
    "fields",
    [
        {"error_rates": {200: 0.5}},
        {"error_rates": {503: 0.7, 500: 0.5}},
        {"error_rates": {503: 1.5}},
        {"latency_ms": -1},
        {"drops": -2},
        {"burst_reset_seconds": -1},
    ],
)
def test_fault_specs_refuse_bad_values(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(fields))):
        FaultSpec(**fields)


def test_counts_of_minus_one_never_run_out(
    sandbox_state: SandboxState, sandbox_client: httpx.AsyncClient
) -> None:
    sandbox_state.faults.set("mastodon", burst_429=-1)
    assert [publish(sandbox_client, "x").status_code for _ in range(5)] == [429] * 5
    assert sandbox_state.faults.get("mastodon").burst_429 == -1
