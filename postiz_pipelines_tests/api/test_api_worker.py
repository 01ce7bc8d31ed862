"""Worker and batch endpoints: keys, processing due jobs through the sandbox, stats, token
refresh."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from postiz_pipelines.core.accounts.store import add_account, credentials
from postiz_pipelines.core.models import (
    AccountStatus,
    AnalyticsEvent,
    AuditLog,
    SocialAccount,
    Workspace,
)
from postiz_pipelines.sandbox import FaultSpec

PROCESS = "/api/postiz/worker/process"
STATS = "/api/postiz/worker/stats"
REFRESH = "/api/postiz/oauth/refresh-batch"


def _post_now(
    client, world, text: str, who: str = "owner", ws: str | None = None, acc: str | None = None
) -> str:  # type: ignore[no-untyped-def]
    r = client.post(
        "/api/postiz/posts",
        headers=world.h(who),
        json={
            "content": text,
            "workspaceId": ws or world.a,
            "targetAccounts": [acc or world.account_a],
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_keys_are_required_and_compared(client, world, worker_headers, batch_headers):
    for method, path in (("POST", PROCESS), ("GET", STATS), ("POST", REFRESH)):
        assert client.request(method, path).status_code == 401
        assert (
            client.request(method, path, headers={"Authorization": "Bearer nope"}).status_code
            == 401
        )
        assert (
            client.request(method, path, headers=world.h()).status_code == 401
        )  # user tokens do not open them
    assert (
        client.post(REFRESH, headers=worker_headers).status_code == 401
    )  # each key opens its own door
    assert client.post(PROCESS, headers=batch_headers).status_code == 401


def test_process_publishes_due_jobs_through_the_sandbox(
    client, world, worker_headers, sandbox_state, clock, app
):
    ids = [_post_now(client, world, f"due {i}") for i in range(3)]
    later = client.post(
        "/api/postiz/posts",
        headers=world.h(),
        json={
            "content": "tomorrow",
            "workspaceId": world.a,
            "targetAccounts": [world.account_a],
            "scheduledAt": (clock.now() + timedelta(days=1)).isoformat(),
        },
    ).json()["id"]

    r = client.post(PROCESS, headers=worker_headers, json={"maxJobs": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["processed"]["claimed"] == 2 and body["processed"]["completed"] == 2
    assert {j["status"] for j in body["jobs"]} == {"completed"} and body["scheduler"] is None
    rest = client.post(PROCESS, headers=worker_headers, json={"maxJobs": 10}).json()
    assert rest["processed"]["completed"] == 1

    assert sorted(p.text for p in sandbox_state.accepted("mastodon")) == ["due 0", "due 1", "due 2"]
    states = {
        i: client.get(f"/api/postiz/posts/{i}", headers=world.h()).json()["status"]
        for i in ids + [later]
    }
    assert states == {**{i: "published" for i in ids}, later: "scheduled"}
    with app.db.read() as s:
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.actor == "worker-api")))
    assert actions == ["worker.process", "worker.process"]


def test_process_with_scheduler_reports_what_it_did(client, worker_headers):
    r = client.post(PROCESS, headers=worker_headers, json={"includeScheduler": True})
    assert r.status_code == 200
    scheduler = r.json()["scheduler"]
    assert scheduler["ran"] is True and isinstance(scheduler["result"], dict)
    assert r.json()["processed"]["claimed"] == 0


def test_process_body_is_validated(client, worker_headers):
    r = client.post(PROCESS, headers=worker_headers, json={"maxJobs": 0})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "maxJobs"
    assert r.json()["problems"][0]["limit"] == 1


def test_stats_shape_and_figures(client, world, worker_headers, sandbox_state, clock):
    _post_now(client, world, "ok")
    client.post(PROCESS, headers=worker_headers, json={})
    sandbox_state.faults.set(  # the platform refuses the next post for good
        "mastodon",
        FaultSpec(error_rates={422: 1.0}, endpoints=frozenset({"POST /api/v1/statuses"})),
    )
    _post_now(client, world, "fails", who="b_owner", ws=world.b, acc=world.account_b)
    client.post(PROCESS, headers=worker_headers, json={})
    sandbox_state.faults.reset("mastodon")
    client.post(
        "/api/postiz/posts",
        headers=world.h(),
        json={
            "content": "waiting",
            "workspaceId": world.a,
            "targetAccounts": [world.account_a],
            "scheduledAt": (clock.now() + timedelta(hours=2)).isoformat(),
        },
    )

    stats = client.get(STATS, headers=worker_headers).json()
    assert set(stats) >= {"timestamp", "queue", "activity", "workspaces"}
    assert stats["timestamp"] == clock.now().isoformat()
    assert (
        stats["queue"]["byStatus"]["completed"] == 1 and stats["queue"]["byStatus"]["failed"] == 1
    )
    assert stats["queue"]["byStatus"]["pending"] == 1 and stats["queue"]["dueNow"] == 0
    assert stats["activity"]["published"] == 1 and stats["activity"]["failed"] == 1
    assert stats["activity"]["successRate"] == 0.5
    by_slug = {w["slug"]: w for w in stats["workspaces"]}
    assert by_slug["acme"]["published24h"] == 1 and by_slug["acme"]["waiting"] == 1
    assert by_slug["globex"]["deadLetter"] == 1 and by_slug["globex"]["failed24h"] == 1


def test_refresh_batch_refreshes_expiring_tokens_through_providers(
    client, world, batch_headers, app, clock
):
    now = clock.now()
    with app.db.session() as s:
        ws = s.get(Workspace, world.a)
        soon_threads = add_account(
            s,
            app.keyring,
            workspace=ws,
            platform="threads",
            handle="t1",
            access_token="th-old-token",
            token_expires_at=now + timedelta(hours=3),
            base_url="http://sandbox.test/threads",
            now=now,
        ).id
        far = add_account(
            s,
            app.keyring,
            workspace=ws,
            platform="threads",
            handle="t2",
            access_token="th-far-token",
            token_expires_at=now + timedelta(days=20),
            base_url="http://sandbox.test/threads",
            now=now,
        ).id
        masto = add_account(
            s,
            app.keyring,
            workspace=ws,
            platform="mastodon",
            handle="m2",
            access_token="m-token",
            token_expires_at=now + timedelta(hours=1),
            base_url="http://sandbox.test/mastodon",
            now=now,
        ).id

    r = client.post(REFRESH, headers=batch_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    outcomes = {x["accountId"]: x["outcome"] for x in body["results"]}
    assert outcomes == {soon_threads: "refreshed", masto: "skipped"}  # the far one is not due
    assert body["refreshed"] == 1 and body["checked"] == 2
    assert "th-old-token" not in r.text

    with app.db.read() as s:
        acc = s.get(SocialAccount, soon_threads)
        assert credentials(acc, app.keyring).access_token.reveal() != "th-old-token"
        assert acc.token_expires_at is not None and acc.token_expires_at > now + timedelta(days=1)
        events = list(
            s.scalars(
                select(AnalyticsEvent.event_type).where(AnalyticsEvent.account_id == soon_threads)
            )
        )
        assert events == ["token_refreshed"]
        assert s.get(SocialAccount, far).token_expires_at == now + timedelta(days=20)


def test_refresh_batch_records_a_refused_refresh(
    client, world, batch_headers, app, clock, sandbox_state
):
    now = clock.now()
    with app.db.session() as s:
        acc_id = add_account(
            s,
            app.keyring,
            workspace=s.get(Workspace, world.a),
            platform="threads",
            handle="t3",
            access_token="th-dead-token",
            token_expires_at=now + timedelta(hours=1),
            base_url="http://sandbox.test/threads",
            now=now,
        ).id
    sandbox_state.revoke_token("threads", "th-dead-token")
    body = client.post(REFRESH, headers=batch_headers).json()
    outcomes = [(x["accountId"], x["outcome"]) for x in body["results"]]
    assert outcomes == [(acc_id, "reconnect_needed")]  # the platform's own refusal
    assert body["results"][0]["errorClass"] == "auth_revoked" and body["reconnectNeeded"] == 1
    with app.db.read() as s:
        assert s.get(SocialAccount, acc_id).status == AccountStatus.RECONNECT_NEEDED
        evs = list(s.scalars(select(AnalyticsEvent).where(AnalyticsEvent.account_id == acc_id)))
        kinds = sorted(e.event_type for e in evs)
        assert kinds == ["account_disconnected", "token_refresh_failed"]
        assert "th-dead-token" not in str([e.data for e in evs])
    # a second batch does not ask the platform again, nor announce it again
    again = client.post(REFRESH, headers=batch_headers).json()
    assert again["checked"] == 0
