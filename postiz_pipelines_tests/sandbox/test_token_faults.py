"""Token endpoints on demand: a refresh refused as invalid_grant for the next N requests (in
the platform's own shape), a slow or failing endpoint, and LinkedIn's rotation switch."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from postiz_pipelines.sandbox import FaultSpec, SandboxState

X_TOKEN = "POST /2/oauth2/token"
LI_TOKEN = "POST /oauth/v2/accessToken"


def post(client: httpx.AsyncClient, path: str, **kw: Any) -> httpx.Response:
    return asyncio.run(client.post(path, **kw))


def x_tokens(client: httpx.AsyncClient, state: SandboxState) -> dict[str, Any]:
    state.provision("x", "code:ada-code", username="ada")
    r = post(
        client,
        "/x/2/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": "ada-code",
            "redirect_uri": "https://app.test/cb",
            "code_verifier": "v" * 43,
            "client_id": "cid",
        },
    )
    assert r.status_code == 200, r.text
    return r.json()


def x_refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": "cid"}
    return post(client, "/x/2/oauth2/token", data=form)


def test_invalid_grant_on_demand_then_the_endpoint_answers_again(sandbox_client, sandbox_state):
    first = x_tokens(sandbox_client, sandbox_state)
    sandbox_state.faults.set("x", FaultSpec(invalid_grants=1, endpoints=frozenset({X_TOKEN})))
    refused = x_refresh(sandbox_client, first["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    assert sandbox_state.faults.get("x").invalid_grants == 0  # consumed
    ok = x_refresh(sandbox_client, first["refresh_token"])  # the token itself was not spent
    assert ok.status_code == 200 and ok.json()["refresh_token"] != first["refresh_token"]
    spent = x_refresh(sandbox_client, first["refresh_token"])  # X rotates: single use
    assert spent.status_code == 400


def test_a_failing_token_endpoint_answers_503_and_spends_nothing(sandbox_client, sandbox_state):
    first = x_tokens(sandbox_client, sandbox_state)
    sandbox_state.faults.set("x", FaultSpec(error_rates={503: 1.0}, endpoints=frozenset({X_TOKEN})))
    assert x_refresh(sandbox_client, first["refresh_token"]).status_code == 503
    sandbox_state.faults.reset("x")
    assert x_refresh(sandbox_client, first["refresh_token"]).status_code == 200


def test_the_control_api_takes_invalid_grants_and_the_default_refusal_is_oauths(
    sandbox_client, sandbox_state
):
    r = post(
        sandbox_client,
        "/_sandbox/linkedin/faults",
        json={"invalid_grants": 2, "endpoints": [LI_TOKEN]},
    )
    assert r.status_code == 200 and r.json()["faults"]["invalid_grants"] == 2
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "x",
        "client_id": "c",
        "client_secret": "s",
    }
    refused = post(sandbox_client, "/linkedin/oauth/v2/accessToken", data=form)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert sandbox_state.faults.get("linkedin").invalid_grants == 1
    bad = post(sandbox_client, "/_sandbox/linkedin/faults", json={"invalid_grants": -2})
    assert bad.status_code == 422 and "invalid_grants" in bad.text


def test_linkedin_rotates_refresh_tokens_when_configured(sandbox_client, sandbox_state):
    def code_grant() -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": "li-code",
            "client_id": "c",
            "client_secret": "s",
            "redirect_uri": "https://app.test/cb",
        }
        return post(sandbox_client, "/linkedin/oauth/v2/accessToken", data=form).json()

    def refresh(token: str) -> httpx.Response:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": "c",
            "client_secret": "s",
        }
        return post(sandbox_client, "/linkedin/oauth/v2/accessToken", data=form)

    first = code_grant()["refresh_token"]
    assert refresh(first).json()["refresh_token"] == first  # LinkedIn's default: kept
    sandbox_state.configure("linkedin", rotate_refresh_tokens=True)
    rotated = refresh(first).json()["refresh_token"]
    assert rotated != first
    assert refresh(first).status_code == 400  # the used one stops working
    assert refresh(rotated).status_code == 200


def test_threads_long_lived_tokens_rotate_when_configured(sandbox_client, sandbox_state):
    sandbox_state.provision("threads", "THAA-first", username="zoë")

    def refresh(token: str) -> httpx.Response:
        params = {"grant_type": "th_refresh_token", "access_token": token}
        return asyncio.run(sandbox_client.get("/threads/refresh_access_token", params=params))

    kept = refresh("THAA-first")
    assert kept.status_code == 200
    assert refresh("THAA-first").status_code == 200  # by default the old one still works
    sandbox_state.configure("threads", rotate_refresh_tokens=True)
    rotated = refresh("THAA-first").json()["access_token"]
    assert refresh("THAA-first").status_code == 400  # spent
    assert refresh(rotated).status_code == 200
