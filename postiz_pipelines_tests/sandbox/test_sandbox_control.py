"""The ``/_sandbox`` control API, and the framework itself with a platform of the test's own."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox import (
    Call,
    PlatformSandbox,
    SandboxState,
    SandboxTransport,
    create_app,
    endpoint,
)


def call(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
    return asyncio.run(client.request(method, path, **kw))


ALICE = "tok-a"


def publish(client: httpx.AsyncClient, token: str = ALICE) -> httpx.Response:
    return call(
        client,
        "POST",
        "/mastodon/api/v1/statuses",
        headers={"Authorization": f"Bearer {token}"},
        json={"status": "hello"},
    )


def test_health_and_platforms(sandbox_client: httpx.AsyncClient) -> None:
    assert call(sandbox_client, "GET", "/_sandbox/health").json() == {"ok": True}
    assert "mastodon" in call(sandbox_client, "GET", "/_sandbox/platforms").json()["platforms"]


def test_faults_are_set_read_and_cleared_over_http(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    body = {"error_rates": {"503": 0.5}, "seed": 3, "drops": 2, "endpoints": ["GET /x"]}
    put = call(sandbox_client, "PUT", "/_sandbox/mastodon/faults", json=body)
    assert put.status_code == 200
    spec = sandbox_state.faults.get("mastodon")
    assert (spec.error_rates, spec.seed, spec.drops, spec.endpoints) == (
        {503: 0.5},
        3,
        2,
        frozenset({"GET /x"}),
    )
    shown = call(sandbox_client, "GET", "/_sandbox/mastodon/faults").json()["faults"]
    assert shown["error_rates"] == {"503": 0.5}
    call(sandbox_client, "DELETE", "/_sandbox/mastodon/faults")
    assert sandbox_state.faults.get("mastodon").drops == 0


def test_bad_fault_bodies_name_the_problem(sandbox_client: httpx.AsyncClient) -> None:
    unknown = call(sandbox_client, "POST", "/_sandbox/mastodon/faults", json={"lag": 1})
    assert (unknown.status_code, unknown.json()["error"]) == (422, "unknown fault field(s): lag")
    bad = call(
        sandbox_client, "POST", "/_sandbox/mastodon/faults", json={"error_rates": {"503": 2}}
    )
    assert bad.status_code == 422
    assert "error_rates[503]" in bad.json()["error"]
    not_json = call(sandbox_client, "POST", "/_sandbox/mastodon/faults", content=b"{")
    assert not_json.status_code == 400
    nowhere = call(sandbox_client, "GET", "/_sandbox/myspace/faults")
    assert nowhere.status_code == 404
    assert "myspace" in nowhere.json()["error"]


def test_posts_and_request_counts_are_readable(sandbox_client: httpx.AsyncClient) -> None:
    publish(sandbox_client)
    posts = call(sandbox_client, "GET", "/_sandbox/mastodon/posts").json()["posts"]
    assert [(p["text"], p["platform"]) for p in posts] == [("hello", "mastodon")]
    counts = call(sandbox_client, "GET", "/_sandbox/mastodon/requests").json()["requests"]
    assert counts == {"POST /api/v1/statuses": 1}


def test_reset_forgets_posts_and_faults(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    publish(sandbox_client)
    sandbox_state.faults.set("mastodon", outage=True)
    assert call(sandbox_client, "POST", "/_sandbox/reset").status_code == 200
    assert sandbox_state.accepted("mastodon") == []
    assert sandbox_state.faults.get("mastodon").outage is False
    assert publish(sandbox_client).status_code == 200


def test_tokens_are_revoked_and_expired_and_accounts_provisioned_over_http(
    sandbox_client: httpx.AsyncClient,
) -> None:
    made = call(
        sandbox_client,
        "POST",
        "/_sandbox/mastodon/accounts",
        json={"token": "tok-a", "username": "alice"},
    )
    assert (made.status_code, made.json()["username"]) == (201, "alice")
    assert publish(sandbox_client, "tok-a").json()["account"]["username"] == "alice"
    call(sandbox_client, "POST", "/_sandbox/mastodon/tokens/revoke", json={"token": "tok-a"})
    call(sandbox_client, "POST", "/_sandbox/mastodon/tokens/expire", json={"token": "tok-b"})
    assert publish(sandbox_client, "tok-a").json()["error"] == "The access token was revoked"
    assert publish(sandbox_client, "tok-b").json()["error"] == "The access token expired"
    call(
        sandbox_client,
        "POST",
        "/_sandbox/mastodon/accounts",
        json={"token": "tok-c", "disabled": True},
    )
    assert publish(sandbox_client, "tok-c").status_code == 403
    missing = call(sandbox_client, "POST", "/_sandbox/mastodon/tokens/revoke", json={})
    assert missing.status_code == 400


class EchoSandbox(PlatformSandbox):
    """A platform of one endpoint: what adding a platform to the sandbox takes."""

    name = "echo"

    @endpoint("POST", "/say", publish=True)
    async def say(self, call: Call) -> Response:
        text = (await call.request.json())["text"]
        if not text:
            raise self.error(400, "nothing to say")
        call.headers["X-Echo"] = "1"
        return JSONResponse({"said": text, "at": call.platform_url})


def test_a_platform_is_one_class_and_gets_faults_and_counts_for_free(clock: Any) -> None:
    state = SandboxState(clock=clock)
    app = create_app(state, platforms=(EchoSandbox,))
    client = httpx.AsyncClient(transport=SandboxTransport(app, timeout=5), base_url="http://h")
    said = call(client, "POST", "/echo/say", json={"text": "hi"})
    assert said.json() == {"said": "hi", "at": "http://h/echo"}
    assert said.headers["X-Echo"] == "1"
    refused = call(client, "POST", "/echo/say", json={"text": ""})
    assert (refused.status_code, refused.json()) == (400, {"error": "nothing to say"})
    state.faults.set("echo", burst_429=1, burst_reset_seconds=12)
    limited = call(client, "POST", "/echo/say", json={"text": "hi"})
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "12")
    state.faults.set("echo", drops=1)
    try:
        call(client, "POST", "/echo/say", json={"text": "hi"})
        dropped = False
    except httpx.RemoteProtocolError:
        dropped = True
    assert dropped
    assert state.request_counts("echo") == {"POST /say": 4}
    assert call(client, "GET", "/mastodon/api/v2/instance").status_code == 404
