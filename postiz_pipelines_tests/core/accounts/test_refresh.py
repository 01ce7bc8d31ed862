"""Refresh that never harms: one refresher per account, the rest reuse its result; transient
failures retried and harmless; a missing OAuth client is the operator's error; only the
platform's permanent refusal disconnects, once. Against the X sandbox (rotating refresh
tokens) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from postiz_pipelines.core.accounts import tokens
from postiz_pipelines.core.accounts.store import add_account, credentials
from postiz_pipelines.core.db import Database
from postiz_pipelines.core.models import (
    AccountStatus,
    AnalyticsEvent,
    JobStatus,
    PublishJob,
    SocialAccount,
    Workspace,
)
from postiz_pipelines.core.observability.alerts import AlertPolicy, find_alerts
from postiz_pipelines.core.publishing.token_refresh import hold_jobs, refresh_batch
from postiz_pipelines.crypto import Secret
from postiz_pipelines.providers.x import XProvider
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport, create_app

CLIENT_ID = "postiz-test-client"
TOKEN = "POST /2/oauth2/token"
FAST = tokens.RetryPolicy(attempts=3, wait_min=0.01, wait_max=0.02)


@pytest.fixture
def sandbox(clock):  # type: ignore[no-untyped-def]
    state = SandboxState(clock=clock, seed=3)
    return state, SandboxTransport(create_app(state), timeout=10)


def x_provider(http, clock, client_id=CLIENT_ID):  # type: ignore[no-untyped-def]
    return XProvider(http, base_url="http://sandbox.test/x", client_id=client_id, clock=clock)


def connect_x(app, make, clock, sandbox, handle="ada"):  # type: ignore[no-untyped-def]
    """An X account connected through the sandbox's code flow, its token about to expire."""
    state, transport = sandbox
    state.provision("x", f"code:{handle}-code", username=handle)

    async def exchange():  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(transport=transport) as http:
            return await x_provider(http, clock).exchange_code(
                f"{handle}-code", redirect_uri="https://app.test/cb", code_verifier="v" * 43
            )

    got = asyncio.run(exchange())
    ws = make.workspace()
    with app.db.session() as s:
        account = add_account(
            s,
            app.keyring,
            workspace=s.get(Workspace, ws.id),
            platform="x",
            handle=handle,
            external_id=f"x-{handle}",
            access_token=got.access_token.reveal(),
            refresh_token=got.refresh_token.reveal() if got.refresh_token else None,
            token_expires_at=clock.now() + timedelta(minutes=20),
            now=clock.now(),
        )
        return ws, account.id, got


def stored(app, account_id):  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        account = s.get(SocialAccount, account_id)
        return account, credentials(account, app.keyring)


def events_of(app, account_id):  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return list(
            s.scalars(
                select(AnalyticsEvent)
                .where(AnalyticsEvent.account_id == account_id)
                .order_by(AnalyticsEvent.id)
            )
        )


def test_eight_concurrent_refreshers_call_the_platform_once(app, make, clock, sandbox):
    state, transport = sandbox
    _, account_id, first = connect_x(app, make, clock, sandbox)
    state.faults.set("x", FaultSpec(latency_ms=400, endpoints=frozenset({TOKEN})))
    before = state.request_count("x", TOKEN)

    workers = [Database(app.settings.resolved_database_url) for _ in range(8)]  # 8 engines

    async def eight():  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(transport=transport) as http:
            return await asyncio.gather(
                *(
                    tokens.refresh_account(
                        tokens.Refresher(db, app.keyring, FAST),
                        x_provider(http, clock),
                        account_id,
                        now=clock.now(),
                        owner=f"refresher-{i}",
                        used_token=first.access_token,  # all eight saw it refused at once
                    )
                    for i, db in enumerate(workers)
                )
            )

    try:
        results = asyncio.run(eight())
    finally:
        for db in workers:
            db.dispose()
    assert state.request_count("x", TOKEN) - before == 1  # one refresh call, not eight
    assert Counter(r.outcome for r in results) == {"refreshed": 1, "reused": 7}
    newest = {r.tokens.access_token.reveal() for r in results if r.tokens}
    assert len(newest) == 1  # every caller got the same new token
    account, creds = stored(app, account_id)
    assert account.status == AccountStatus.ACTIVE and account.token_version == 1
    assert account.refresh_lease_owner is None
    assert creds.access_token.reveal() in newest
    assert creds.refresh_token is not None
    assert creds.refresh_token.reveal() != first.refresh_token.reveal()  # rotated, and stored
    # the stored refresh token is the live one: it refreshes again; the first one is spent
    state.faults.reset("x")

    async def again():  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(transport=transport) as http:
            return await tokens.refresh_account(
                tokens.Refresher(app.db, app.keyring, FAST),
                x_provider(http, clock),
                account_id,
                now=clock.now(),
            )

    assert asyncio.run(again()).outcome == "refreshed"
    kinds = [e.event_type for e in events_of(app, account_id)]
    assert kinds == ["token_refreshed", "token_refreshed"]


def test_transient_failures_are_retried_and_never_touch_the_account(app, make, clock, sandbox):
    state, transport = sandbox
    _, account_id, first = connect_x(app, make, clock, sandbox)
    state.faults.set("x", FaultSpec(error_rates={503: 1.0}, endpoints=frozenset({TOKEN})))
    before = state.request_count("x", TOKEN)

    async def once():  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(transport=transport) as http:
            return await tokens.refresh_account(
                tokens.Refresher(app.db, app.keyring, FAST),
                x_provider(http, clock),
                account_id,
                now=clock.now(),
            )

    result = asyncio.run(once())
    assert result.outcome == "failed" and result.error_class == "transient"
    assert state.request_count("x", TOKEN) - before == 3  # retried with backoff
    account, creds = stored(app, account_id)
    assert account.status == AccountStatus.ACTIVE and account.token_version == 0
    assert account.refresh_lease_owner is None  # the lease was given back
    assert creds.refresh_token.reveal() == first.refresh_token.reveal()  # not spent
    [ev] = events_of(app, account_id)
    assert ev.event_type == "token_refresh_failed" and ev.data["reason"] == "transient"
    assert first.refresh_token.reveal() not in str(ev.data)
    state.faults.reset("x")
    assert asyncio.run(once()).outcome == "refreshed"  # the same refresh token still works


def test_a_missing_client_id_is_a_configuration_error_not_a_revocation(app, make, clock, sandbox):
    state, transport = sandbox
    ws, account_id, _ = connect_x(app, make, clock, sandbox)
    [job] = make.jobs(ws, stored(app, account_id)[0], 1, run_at=clock.now())
    report = refresh_batch(app, now=clock.now(), transport=transport, retry=FAST)  # no client id
    [line] = report.results
    assert (line.outcome, line.variable) == ("config_error", "POSTIZ_X_CLIENT_ID")
    assert report.as_dict()["configErrors"] == 1
    assert state.request_count("x", TOKEN) == 1  # only the connect's: nothing was sent
    account, _ = stored(app, account_id)
    assert account.status == AccountStatus.ACTIVE and account.status_reason is None
    kinds = Counter(e.event_type for e in events_of(app, account_id))
    assert kinds == {"config_error": 1, "token_refresh_failed": 1}
    with app.db.read() as s:
        assert s.get(PublishJob, job).status == JobStatus.PENDING
        [alert] = find_alerts(s, now=clock.now(), policy=AlertPolicy())
    assert (alert.kind, alert.subject) == ("oauth_client_config", "x")
    assert "POSTIZ_X_CLIENT_ID" in alert.message and "no account was disconnected" in alert.message


def test_the_platforms_refusal_disconnects_once_and_holds_the_jobs(app, make, clock, sandbox):
    state, transport = sandbox
    ws, account_id, first = connect_x(app, make, clock, sandbox)
    [job] = make.jobs(ws, stored(app, account_id)[0], 1, run_at=clock.now())
    state.revoke_token("x", first.refresh_token.reveal())  # the user revoked the app

    async def refresh():  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(transport=transport) as http:
            return await tokens.refresh_account(
                tokens.Refresher(app.db, app.keyring, FAST, on_reconnect_needed=hold_jobs),
                x_provider(http, clock),
                account_id,
                now=clock.now(),
            )

    assert asyncio.run(refresh()).outcome == "reconnect_needed"
    assert asyncio.run(refresh()).outcome == "reconnect_needed"  # not asked again
    account, _ = stored(app, account_id)
    assert account.status == AccountStatus.RECONNECT_NEEDED
    assert "refused" in (account.status_reason or "")
    kinds = Counter(e.event_type for e in events_of(app, account_id))
    assert kinds["account_disconnected"] == 1 and kinds["token_refresh_failed"] == 1
    with app.db.read() as s:
        held = s.get(PublishJob, job)
        assert held.status == JobStatus.HELD and held.attempts == 0


def test_a_stale_caller_reuses_tokens_refreshed_meanwhile_without_a_call(app, make, clock, sandbox):
    state, transport = sandbox
    _, account_id, first = connect_x(app, make, clock, sandbox)

    async def refresh(used):  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(transport=transport) as http:
            return await tokens.refresh_account(
                tokens.Refresher(app.db, app.keyring, FAST),
                x_provider(http, clock),
                account_id,
                now=clock.now(),
                used_token=used,
            )

    fresh = asyncio.run(refresh(first.access_token))
    calls = state.request_count("x", TOKEN)
    late = asyncio.run(refresh(Secret(first.access_token.reveal())))  # a worker that lagged
    assert late.outcome == "reused" and state.request_count("x", TOKEN) == calls
    assert late.tokens.access_token.reveal() == fresh.tokens.access_token.reveal()
