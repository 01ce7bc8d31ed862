"""Posts through HTTP: create, list and page, read, edit and reschedule, cancel, retry, attempts,
idempotent retries, write limits, body limits, and problem+json for every refusal."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from postiz_pipelines.api import create_app
from postiz_pipelines.api.ratelimit import RateSpec
from postiz_pipelines.core.models import JobStatus, Post, PublishJob, SocialAccount
from postiz_pipelines.core.publishing.hold import release_held_jobs

POSTS = "/api/postiz/posts"
WORKER = {
    "Authorization": "Bearer worker-key-for-tests-0123456789"
}  # POSTIZ_WORKER_API_KEY in conftest


def _create(client, world, soon, text="hello world", who="owner", **extra):  # type: ignore[no-untyped-def]
    body = {
        "content": text,
        "workspaceId": world.a,
        "targetAccounts": [world.account_a],
        "scheduledAt": soon(600),
        **extra,
    }
    return client.post(POSTS, headers=world.h(who), json=body)


def _count_posts(app) -> int:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return s.scalar(select(func.count()).select_from(Post)) or 0


def test_create_read_and_list(client, world, soon, clock):
    r = _create(client, world, soon, settings={"visibility": "unlisted"})
    assert r.status_code == 201, r.text
    post = r.json()
    assert post["status"] == "scheduled"
    assert post["scheduledAt"] == (clock.now() + timedelta(seconds=600)).isoformat()
    assert post["settings"] == {"visibility": "unlisted"}
    assert [t["accountId"] for t in post["targets"]] == [world.account_a]

    got = client.get(f"{POSTS}/{post['id']}", headers=world.h("viewer"))
    assert got.status_code == 200 and got.json()["content"] == "hello world"

    listed = client.get(POSTS, headers=world.h("viewer"), params={"workspace_id": world.a})
    assert [p["id"] for p in listed.json()["posts"]] == [post["id"]]
    filtered = client.get(
        POSTS, headers=world.h(), params={"workspace_id": world.a, "status": "published"}
    )
    assert filtered.json()["posts"] == []


def test_schedule_object_and_per_target_override(client, world, soon, clock):
    when = (clock.now() + timedelta(hours=1)).replace(tzinfo=None).isoformat()  # local, no offset
    r = client.post(
        POSTS,
        headers=world.h(),
        json={
            "content": "base text",
            "workspaceId": world.a,
            "targetAccounts": [world.account_a],
            "schedule": {"kind": "single", "at": when, "timezone": "America/New_York"},
            "overrides": {world.account_a: {"content": "for alice only"}},
        },
    )
    assert r.status_code == 201, r.text
    # 13:00 wall time in New York is 18:00 UTC in late November (EST, UTC-5)
    assert r.json()["scheduledAt"] == "2026-11-28T18:00:00+00:00"
    assert r.json()["targets"][0]["contentOverride"] == "for alice only"


def test_cursor_pages_cover_every_post_once(client, world, soon):
    ids = [
        _create(client, world, soon, text=f"post {i}", scheduledAt=soon(60 * (i + 1))).json()["id"]
        for i in range(7)
    ]
    seen, cursor = [], None
    while True:
        params = {"workspace_id": world.a, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(POSTS, headers=world.h(), params=params).json()
        seen += [p["id"] for p in page["posts"]]
        cursor = page["pagination"]["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # latest scheduled first, no duplicates, none missing
    page2 = client.get(
        POSTS, headers=world.h(), params={"workspace_id": world.a, "limit": 3, "page": 2}
    ).json()
    assert [p["id"] for p in page2["posts"]] == seen[3:6]


def test_refusals_name_field_value_and_limit_and_store_nothing(client, world, soon, app):
    too_long = _create(client, world, soon, text="x" * 501)
    assert too_long.status_code == 422
    assert too_long.headers["content-type"] == "application/problem+json"
    problem = too_long.json()
    assert problem["status"] == 422 and problem["title"]
    assert {
        "field": "mastodon.text",
        "message": "text is 501 graphemes, limit 500",
        "value": 501,
        "limit": 500,
    } in problem["problems"]

    unknown = client.post(
        POSTS,
        headers=world.h(),
        json={
            "content": "hi",
            "workspaceId": world.a,
            "targetAccounts": ["acc_nope"],
            "scheduledAt": soon(),
        },
    )
    assert unknown.status_code == 422
    assert unknown.json()["problems"][0]["field"] == "targetAccounts[0]"

    past = _create(client, world, soon, scheduledAt="2020-01-01T00:00:00Z")
    assert past.status_code == 422 and past.json()["problems"][0]["field"] == "scheduledAt"

    wrong_type = client.post(
        POSTS,
        headers=world.h(),
        json={"content": "hi", "workspaceId": world.a, "targetAccounts": "acc"},
    )
    assert wrong_type.status_code == 422
    assert wrong_type.json()["problems"][0]["field"] == "targetAccounts"

    unknown_kind = _create(client, world, soon, scheduledAt=None, schedule={"kind": "weekly"})
    assert unknown_kind.status_code == 422
    assert unknown_kind.json()["problems"][0]["field"] == "schedule"
    assert "recurring" in unknown_kind.json()["problems"][0]["message"]

    no_rule = _create(client, world, soon, scheduledAt=None, schedule={"kind": "recurring"})
    assert no_rule.status_code == 422
    assert no_rule.json()["problems"][0]["field"] == "schedule"

    both = _create(client, world, soon, schedule={"kind": "single"})
    assert both.status_code == 422 and both.json()["problems"][0]["field"] == "schedule"

    not_json = client.post(
        POSTS, headers={**world.h(), "content-type": "application/json"}, content=b"{nope"
    )
    assert not_json.status_code == 422 and "Traceback" not in not_json.text

    assert _count_posts(app) == 0


def test_edit_and_reschedule_before_publishing(client, world, soon, app, clock):
    post = _create(client, world, soon).json()
    later = soon(7200)
    r = client.patch(
        f"{POSTS}/{post['id']}",
        headers=world.h("editor"),
        json={"content": "edited", "scheduledAt": later},
    )
    assert r.status_code == 200, r.text
    assert r.json()["content"] == "edited" and r.json()["scheduledAt"] == later
    with app.db.read() as s:
        job = s.scalar(select(PublishJob).where(PublishJob.post_id == post["id"]))
        assert job.run_at.isoformat() == later and job.status == JobStatus.PENDING

    refused = client.patch(f"{POSTS}/{post['id']}", headers=world.h(), json={"content": "y" * 600})
    assert refused.status_code == 422
    assert client.get(f"{POSTS}/{post['id']}", headers=world.h()).json()["content"] == "edited"


def test_cancel_then_nothing_is_published(client, world, soon, sandbox_state, clock):
    post = _create(client, world, soon, scheduledAt=clock.now().isoformat()).json()
    r = client.delete(f"{POSTS}/{post['id']}", headers=world.h("editor"))
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    assert r.json()["targets"][0]["status"] == "canceled"
    assert client.delete(f"{POSTS}/{post['id']}", headers=world.h()).status_code == 409
    done = client.post("/api/postiz/worker/process", headers=WORKER, json={"maxJobs": 10}).json()
    assert done["processed"]["claimed"] == 0
    assert sandbox_state.accepted("mastodon") == []


def test_published_post_cannot_be_edited_or_canceled(client, world, clock):
    post = client.post(
        POSTS,
        headers=world.h(),
        json={"content": "now", "workspaceId": world.a, "targetAccounts": [world.account_a]},
    ).json()
    client.post("/api/postiz/worker/process", headers=WORKER, json={})
    assert client.get(f"{POSTS}/{post['id']}", headers=world.h()).json()["status"] == "published"
    edit = client.patch(f"{POSTS}/{post['id']}", headers=world.h(), json={"content": "late"})
    assert edit.status_code == 409 and edit.headers["content-type"] == "application/problem+json"
    assert client.delete(f"{POSTS}/{post['id']}", headers=world.h()).status_code == 409


def test_a_revoked_account_holds_the_post_until_reconnected(
    client, world, sandbox_state, app, clock
):
    sandbox_state.revoke_token("mastodon", "tok-alice")
    post = client.post(
        POSTS,
        headers=world.h(),
        json={
            "content": "waits for its account",
            "workspaceId": world.a,
            "targetAccounts": [world.account_a],
        },
    ).json()
    first = client.post("/api/postiz/worker/process", headers=WORKER, json={}).json()
    assert first["processed"]["held"] == 1 and first["processed"]["failed"] == 0
    [job] = client.get(f"{POSTS}/{post['id']}/jobs", headers=world.h("viewer")).json()["jobs"]
    assert (job["status"], job["heldReason"], job["attempts"]) == (
        "held",
        "account_reconnect_needed",
        0,
    )
    assert job["heldAt"] is not None
    held = client.get(
        "/api/postiz/held-jobs", params={"workspaceId": world.a}, headers=world.h("viewer")
    ).json()["jobs"]
    assert [j["id"] for j in held] == [job["id"]]
    assert client.get("/api/postiz/held-jobs", headers=world.h("b_owner")).json()["jobs"] == []
    dead = client.get("/api/postiz/dead-letter", headers=world.h("viewer")).json()["jobs"]
    assert dead == []  # held, not failed
    account = client.get(f"/api/postiz/accounts/{world.account_a}", headers=world.h()).json()
    assert account["status"] == "reconnect_needed" and account["statusReason"]

    # the account is reconnected: the platform takes the token again, the held job is released
    sandbox_state.provision("mastodon", "tok-alice")
    with app.db.session() as s:
        s.get(SocialAccount, world.account_a).status = "active"
        release_held_jobs(s, account_id=world.account_a, now=clock.now(), grace=timedelta(hours=24))
    second = client.post("/api/postiz/worker/process", headers=WORKER, json={}).json()
    assert second["processed"]["completed"] == 1
    assert client.get(f"{POSTS}/{post['id']}", headers=world.h()).json()["status"] == "published"

    attempts = client.get(f"{POSTS}/{post['id']}/attempts", headers=world.h("viewer")).json()[
        "attempts"
    ]
    assert [(a["attemptNo"], a["outcome"]) for a in attempts] == [(1, "failed"), (2, "succeeded")]
    assert attempts[0]["errorClass"] == "auth_revoked" and attempts[0]["httpStatus"] == 401
    assert "tok-alice" not in str(attempts)


def test_idempotency_key_makes_a_retry_return_the_same_post(client, world, soon, app):
    body = {
        "content": "once",
        "workspaceId": world.a,
        "targetAccounts": [world.account_a],
        "scheduledAt": soon(),
    }
    headers = {**world.h(), "Idempotency-Key": "create-once-1"}
    first = client.post(POSTS, headers=headers, json=body)
    again = client.post(POSTS, headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert _count_posts(app) == 1

    different = client.post(POSTS, headers=headers, json={**body, "content": "twice"})
    assert different.status_code == 422
    assert different.json()["problems"][0]["field"] == "Idempotency-Key"

    other_user = client.post(
        POSTS, headers={**world.h("editor"), "Idempotency-Key": "create-once-1"}, json=body
    )
    assert other_user.status_code == 201 and other_user.json()["id"] != first.json()["id"]
    assert _count_posts(app) == 2

    refused = client.post(
        POSTS,
        headers={**world.h(), "Idempotency-Key": "bad-1"},
        json={**body, "content": "z" * 999},
    )
    assert refused.status_code == 422
    fixed = client.post(
        POSTS, headers={**world.h(), "Idempotency-Key": "bad-1"}, json={**body, "content": "fixed"}
    )
    assert fixed.status_code == 201  # a refused request does not use the key up


def test_write_limit_answers_429_with_retry_after(app, clock, transport, world, soon, make_client):
    limited = make_client(
        create_app(app, clock=clock, transport=transport, write_limit=RateSpec(2, 60))
    )
    codes = [_create(limited, world, soon, text=f"p{i}").status_code for i in range(3)]
    assert codes == [201, 201, 429]
    third = _create(limited, world, soon, text="p3")
    assert third.status_code == 429 and int(third.headers["retry-after"]) >= 1
    assert (
        limited.get(POSTS, headers=world.h(), params={"workspace_id": world.a}).status_code == 200
    )
    assert _create(limited, world, soon, who="editor").status_code == 201  # per user
    clock.advance(31)
    assert _create(limited, world, soon, text="after the wait").status_code == 201


def test_body_over_limit_is_413(client, world):
    r = client.post(
        POSTS,
        headers={**world.h(), "content-type": "application/json"},
        content=b'{"content": "' + b"x" * (1024 * 1024 + 10) + b'"}',
    )
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"


def test_missing_and_wrong_tokens_are_401(client, world):
    assert client.get(POSTS, params={"workspace_id": world.a}).status_code == 401
    wrong = client.get(
        POSTS, headers={"Authorization": "Bearer pz_wrong"}, params={"workspace_id": world.a}
    )
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert wrong.json()["type"].endswith("/unauthorized")


def test_every_change_is_audited_with_its_actor(client, world, soon, app):
    from postiz_pipelines.core.models import AuditLog

    post = _create(client, world, soon, who="editor").json()
    client.patch(f"{POSTS}/{post['id']}", headers=world.h("editor"), json={"content": "v2"})
    client.delete(f"{POSTS}/{post['id']}", headers=world.h("admin"))
    client.post("/api/postiz/tokens", headers=world.h("editor"), json={"name": "laptop"})
    with app.db.read() as s:
        rows = [
            (a.actor, a.action)
            for a in s.scalars(select(AuditLog).order_by(AuditLog.id))
            if a.actor.startswith("user:")
        ]
    assert rows == [
        (f"user:{world.users['editor']}", "post.create"),
        (f"user:{world.users['editor']}", "post.update"),
        (f"user:{world.users['admin']}", "post.cancel"),
        (f"user:{world.users['editor']}", "token.create"),
    ]
