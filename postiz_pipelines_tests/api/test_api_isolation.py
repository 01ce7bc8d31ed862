"""The workspace-isolation matrix: every endpoint, every role, and another workspace's ids.

For each endpoint: no token is 401; every role of workspace ``acme`` aimed at ``globex``'s
objects gets 404 and changes nothing there; inside ``acme`` a role below the endpoint's
minimum gets 403 and the others are let through (each on fresh objects, so one role's
change does not decide the next role's answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from postiz_pipelines.core.models import (
    EvergreenPost,
    EvergreenTimetable,
    JobStatus,
    MediaAsset,
    Post,
    PublishJob,
    Schedule,
    SocialAccount,
    WebhookSubscription,
    Workspace,
)
from postiz_pipelines.core.observability.webhooks import create_subscription
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.publishing import queue
from postiz_pipelines.core.scheduling.schedules import Recurrence
from postiz_pipelines.core.workspaces import auth
from postiz_pipelines_tests.api.conftest import SANDBOX

ORDER = ("viewer", "editor", "admin", "owner")


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    """The providers point at the in-process sandbox (connecting Telegram calls getMe)."""
    return {**env, "POSTIZ_SANDBOX_URL": SANDBOX}


PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    role: str
    body: Any = None
    variant: str = ""

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("GET", "/api/postiz/posts?workspace_id={ws}", "viewer"),
    Endpoint(
        "POST",
        "/api/postiz/posts",
        "editor",
        {"content": "matrix", "workspaceId": "{ws}", "targetAccounts": ["{account}"]},
    ),
    Endpoint("GET", "/api/postiz/posts/{post}", "viewer"),
    Endpoint("PATCH", "/api/postiz/posts/{post}", "editor", {"content": "changed"}),
    Endpoint("DELETE", "/api/postiz/posts/{post}", "editor"),
    Endpoint("POST", "/api/postiz/posts/{failed_post}/retry", "editor", {"force": True}),
    Endpoint("GET", "/api/postiz/posts/{post}/attempts", "viewer"),
    Endpoint("GET", "/api/postiz/posts/{post}/jobs", "viewer"),
    Endpoint("POST", "/api/postiz/media/upload?workspace_id={ws}", "editor", "multipart"),
    Endpoint("GET", "/api/postiz/media?workspace_id={ws}", "viewer"),
    Endpoint("GET", "/api/postiz/media/{media}", "viewer"),
    Endpoint("DELETE", "/api/postiz/media/{media}", "editor"),
    Endpoint("GET", "/api/postiz/accounts?workspace_id={ws}", "viewer"),
    Endpoint(
        "POST",
        "/api/postiz/accounts",
        "admin",
        {"workspaceId": "{ws}", "platform": "mastodon", "handle": "new", "accessToken": "t-new"},
    ),
    Endpoint("GET", "/api/postiz/accounts/{account}", "viewer"),
    Endpoint("PATCH", "/api/postiz/accounts/{account}", "admin", {"displayName": "Renamed ✨"}),
    Endpoint("DELETE", "/api/postiz/accounts/{account}", "admin"),
    Endpoint(
        "GET",
        "/api/postiz/oauth/mastodon/authorize?workspace_id={ws}&instance=sandbox.test/mastodon",
        "admin",
    ),
    Endpoint(
        "POST",
        "/api/postiz/oauth/telegram/connect",
        "admin",
        {"workspaceId": "{ws}", "botToken": "7000000001:AAH-matrix", "chatId": "-100123"},
    ),
    Endpoint("GET", "/api/postiz/workspaces/{ws}", "viewer"),
    Endpoint("PATCH", "/api/postiz/workspaces/{ws}", "admin", {"name": "Renamed"}),
    Endpoint("GET", "/api/postiz/workspaces/{ws}/members", "viewer"),
    Endpoint(
        "POST",
        "/api/postiz/workspaces/{ws}/members",
        "admin",
        {"email": "{outsider}", "role": "viewer"},
    ),
    Endpoint("PATCH", "/api/postiz/workspaces/{ws}/members/{member}", "admin", {"role": "viewer"}),
    Endpoint("DELETE", "/api/postiz/workspaces/{ws}/members/{member}", "admin"),
    Endpoint("GET", "/api/postiz/dead-letter?workspace_id={ws}", "viewer"),
    Endpoint("POST", "/api/postiz/dead-letter/{job}/requeue", "editor", {"force": True}),
    Endpoint("POST", "/api/postiz/dead-letter/{job}/reschedule", "editor", {"at": "{later}"}),
    Endpoint("POST", "/api/postiz/dead-letter/{job}/cancel", "editor"),
    Endpoint("GET", "/api/postiz/held-jobs?workspace_id={ws}", "viewer"),
    Endpoint("GET", "/api/postiz/webhooks?workspace_id={ws}", "admin"),
    Endpoint(
        "POST",
        "/api/postiz/webhooks",
        "admin",
        {"workspaceId": "{ws}", "url": "https://hooks.test/x"},
    ),
    Endpoint("DELETE", "/api/postiz/webhooks/{webhook}", "admin"),
    Endpoint("GET", "/api/postiz/webhooks/{webhook}/deliveries", "admin"),
    Endpoint("GET", "/api/postiz/schedules?workspace_id={ws}", "viewer"),
    Endpoint("GET", "/api/postiz/schedules/{schedule}", "viewer"),
    Endpoint("GET", "/api/postiz/schedules/{schedule}/occurrences?count=3", "viewer"),
    Endpoint(
        "POST",
        "/api/postiz/schedules/preview",
        "viewer",
        {"workspaceId": "{ws}", "cron": "0 9 * * *"},
    ),
    Endpoint("POST", "/api/postiz/schedules/{schedule}/pause", "editor"),
    Endpoint("POST", "/api/postiz/schedules/{paused_schedule}/resume", "editor"),
    Endpoint("PATCH", "/api/postiz/schedules/{schedule}", "editor", {"cron": "15 9 * * *"}),
    Endpoint("DELETE", "/api/postiz/schedules/{schedule}", "editor"),
    Endpoint("GET", "/api/postiz/evergreen/timetable?workspace_id={ws}", "viewer"),
    Endpoint(
        "PUT",
        "/api/postiz/evergreen/timetable?workspace_id={ws}",
        "editor",
        {
            "slots": [{"weekday": 1, "time": "09:00", "category": "tips"}],
            "accountIds": ["{account}"],
        },
    ),
    Endpoint("GET", "/api/postiz/evergreen/posts?workspace_id={ws}", "viewer"),
    Endpoint(
        "POST",
        "/api/postiz/evergreen/posts",
        "editor",
        {"workspaceId": "{ws}", "category": "tips", "variations": ["another tip"]},
    ),
    Endpoint("DELETE", "/api/postiz/evergreen/posts/{evergreen_post}", "editor"),
    Endpoint("POST", "/api/postiz/evergreen/categories/tips/pause?workspace_id={ws}", "editor"),
    Endpoint("POST", "/api/postiz/evergreen/categories/tips/resume?workspace_id={ws}", "editor"),
    Endpoint(
        "PUT",
        "/api/postiz/accounts/{account}/slots",
        "editor",
        {"slots": [{"weekday": 0, "time": "09:00"}]},
    ),
]


def objects(app, clock, ws_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A fresh set of objects in one workspace: a scheduled post, a failed post and its
    dead-lettered job, a media item, an account, a member, a webhook, a recurring schedule
    (and a paused one), the evergreen timetable and a library post."""
    now = clock.now()
    from postiz_pipelines.core.accounts.store import add_account
    from postiz_pipelines.core.ids import new_id
    from postiz_pipelines.core.scheduling.evergreen_store import add_library_post, set_timetable
    from postiz_pipelines.core.scheduling.schedules import pause_schedule

    tag = new_id("x")[-8:]
    with app.db.session() as s:
        ws = s.get(Workspace, ws_id)
        acc = add_account(
            s,
            app.keyring,
            workspace=ws,
            platform="mastodon",
            handle=f"h{tag}",
            access_token=f"tok-{tag}",
            base_url="http://sandbox.test/mastodon",
            now=now,
        )
        post = create_post(
            s,
            workspace=ws,
            text="scheduled",
            account_ids=[acc.id],
            scheduled_at=now + timedelta(hours=1),
            now=now,
        )
        failed = create_post(
            s, workspace=ws, text="failed", account_ids=[acc.id], scheduled_at=None, now=now
        )
        s.flush()
        job = s.scalar(select(PublishJob).where(PublishJob.post_id == failed.id))
        queue.fail(s, job.id, owner=None, now=now, error="boom", error_class="content_rejected")
        media = MediaAsset(
            id=new_id("med"),
            workspace_id=ws.id,
            sha256=tag * 8,
            kind="image",
            mime_type="image/png",
            size_bytes=10,
            storage_key=f"k/{tag}",
            created_at=now,
        )
        s.add(media)
        member = auth.create_user(s, email=f"m{tag}@x.test", now=now)
        auth.set_member(s, workspace_id=ws.id, user_id=member.id, role="editor", now=now)
        outsider = auth.create_user(s, email=f"o{tag}@x.test", now=now)
        hook, _ = create_subscription(
            s, app.keyring, workspace_id=ws.id, url="https://hooks.test/y", now=now
        )
        schedules = []
        for _ in range(2):
            recurring = create_post(
                s,
                workspace=ws,
                text="recurring",
                account_ids=[acc.id],
                scheduled_at=None,
                recurrence=Recurrence(cron="0 */6 * * *", timezone="UTC"),
                now=now,
            )
            s.flush()
            schedules.append(s.scalar(select(Schedule).where(Schedule.post_id == recurring.id)))
        pause_schedule(s, schedules[1], now=now, actor="test")
        set_timetable(
            s,
            workspace=ws,
            slots=[{"weekday": 5, "time": "15:00", "category": "tips"}],
            account_ids=[acc.id],
            now=now,
        )
        library = add_library_post(s, workspace=ws, category="tips", variations=["tip"], now=now)
        return {
            "ws": ws.id,
            "post": post.id,
            "failed_post": failed.id,
            "job": job.id,
            "media": media.id,
            "account": acc.id,
            "member": member.id,
            "outsider": outsider.email,
            "webhook": hook.id,
            "later": (now + timedelta(hours=2)).isoformat(),
            "schedule": schedules[0].id,
            "paused_schedule": schedules[1].id,
            "evergreen_post": library.id,
        }


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for k, v in ids.items():
            value = value.replace("{" + k + "}", v)
        return value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def call(client, ep: Endpoint, ids: dict[str, str], headers: dict[str, str]):  # type: ignore[no-untyped-def]
    url = fill(ep.path, ids)
    if ep.body == "multipart":
        return client.post(url, headers=headers, files={"file": ("p.png", PNG_1PX, "image/png")})
    return client.request(
        ep.method, url, headers=headers, json=fill(ep.body, ids) if ep.body else None
    )


def snapshot(app, ids: dict[str, str]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return {
            "post": (s.get(Post, ids["post"]).status, s.get(Post, ids["post"]).content),
            "failed_post": s.get(Post, ids["failed_post"]).status,
            "job": s.get(PublishJob, ids["job"]).status,
            "media": s.get(MediaAsset, ids["media"]).deleted_at,
            "account": (
                s.get(SocialAccount, ids["account"]).deleted_at,
                s.get(SocialAccount, ids["account"]).settings,
            ),
            "member": auth.role_of(s, user_id=ids["member"], workspace_id=ids["ws"]),
            "webhook": s.get(WebhookSubscription, ids["webhook"]).status,
            "ws": s.get(Workspace, ids["ws"]).name,
            "posts": len(list(s.scalars(select(Post.id).where(Post.workspace_id == ids["ws"])))),
            "schedules": [
                (x.status, x.cron, x.deleted_at)
                for x in (s.get(Schedule, ids["schedule"]), s.get(Schedule, ids["paused_schedule"]))
            ],
            "jobs": len(
                list(s.scalars(select(PublishJob.id).where(PublishJob.workspace_id == ids["ws"])))
            ),
            "timetable": (
                s.get(EvergreenTimetable, ids["ws"]).slots,
                s.get(EvergreenTimetable, ids["ws"]).paused_categories,
            ),
            "library": list(
                s.execute(
                    select(EvergreenPost.id, EvergreenPost.deleted_at).where(
                        EvergreenPost.workspace_id == ids["ws"]
                    )
                )
            ),
        }


@pytest.mark.parametrize("ep", ENDPOINTS, ids=str)
def test_isolation_matrix(ep, client, world, app, clock):
    other = objects(app, clock, world.b)
    before = snapshot(app, other)

    assert call(client, ep, other, {}).status_code == 401
    assert call(client, ep, other, {"Authorization": "Bearer pz_not-a-token"}).status_code == 401

    for role in ORDER:
        r = call(client, ep, other, world.h(role))
        assert r.status_code == 404, (role, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        if "{ws}" not in f"{ep.path}{ep.body}":  # the object's own workspace is never revealed
            assert world.b not in r.text
    assert snapshot(app, other) == before

    needed = ORDER.index(ep.role)
    for i, role in enumerate(ORDER):
        own = objects(app, clock, world.a)
        r = call(client, ep, own, world.h(role))
        if i < needed:
            assert r.status_code == 403, (role, r.status_code, r.text)
            assert r.json()["type"].endswith("/forbidden")
        else:
            assert r.status_code < 400 or r.status_code in (409, 422), (role, r.status_code, r.text)


def test_a_token_can_revoke_only_its_own_tokens(client, world, app, clock):
    with app.db.session() as s:
        other_token = auth.create_token(
            s, user_id=world.users["b_owner"], name="x", now=clock.now()
        )
    r = client.delete(f"/api/postiz/tokens/{other_token.row.id}", headers=world.h("owner"))
    assert r.status_code == 404
    assert (
        client.get(
            "/api/postiz/me", headers={"Authorization": f"Bearer {other_token.token}"}
        ).status_code
        == 200
    )


def test_lists_never_show_another_workspace(client, world, app, clock):
    objects(app, clock, world.b)
    mine = objects(app, clock, world.a)
    dead = client.get("/api/postiz/dead-letter", headers=world.h("viewer")).json()["jobs"]
    assert [j["id"] for j in dead] == [mine["job"]]
    spaces = client.get("/api/postiz/workspaces", headers=world.h("viewer")).json()["workspaces"]
    assert [w["id"] for w in spaces] == [world.a]
    with app.db.read() as s:
        assert s.get(PublishJob, mine["job"]).status == JobStatus.FAILED


# -- the role matrix ---------------------------------------------------------------------
# Actions that belong to no workspace, and the owner-only variants of member changes; with
# ENDPOINTS they make the matrix documented in README.md ("Roles").
ACCOUNT_ENDPOINTS = [
    Endpoint("GET", "/api/postiz/me", "viewer"),
    Endpoint("GET", "/api/postiz/workspaces", "viewer"),
    Endpoint("POST", "/api/postiz/workspaces", "admin", {"slug": "n-{tag}", "name": "Nouvel été"}),
    Endpoint("GET", "/api/postiz/tokens", "viewer"),
    Endpoint("POST", "/api/postiz/tokens", "editor", {"name": "laptop 💻"}),
    Endpoint("DELETE", "/api/postiz/tokens/{own_token}", "viewer"),
    Endpoint(
        "POST",
        "/api/postiz/workspaces/{ws}/members",
        "owner",
        {"email": "{outsider}", "role": "admin"},
        "granting owner or admin",
    ),
    Endpoint(
        "PATCH",
        "/api/postiz/workspaces/{ws}/members/{member}",
        "owner",
        {"role": "admin"},
        "granting owner or admin",
    ),
]
MATRIX = ENDPOINTS + ACCOUNT_ENDPOINTS


def account_state(app, user_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """What the account-level actions change: the workspaces and the user's tokens."""
    with app.db.read() as s:
        return {
            "workspaces": sorted(s.scalars(select(Workspace.slug))),
            "tokens": [(t.id, t.revoked_at) for t in auth.list_tokens(s, user_id)],
        }


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # roles are not about the backend
@pytest.mark.parametrize("role", ORDER)
@pytest.mark.parametrize("ep", MATRIX, ids=lambda ep: f"{ep} {ep.variant}".strip())
def test_role_matrix(ep, role, client, world, app, clock, png):
    """Each role on each action, through HTTP: below the minimum a 403 that changes nothing,
    at or above it the action goes through."""
    ids = objects(app, clock, world.a)
    with app.db.session() as s:
        own = auth.create_token(s, user_id=world.users[role], name="spare", now=clock.now())
    ids.update(own_token=own.row.id, tag=ids["webhook"][-6:].lower())
    before = (snapshot(app, ids), account_state(app, world.users[role]))

    if ep.body == "multipart":  # an image that decodes, so that allowed means stored
        url = fill(ep.path, ids)
        r = client.post(url, headers=world.h(role), files={"file": ("é.png", png(), "image/png")})
    else:
        r = call(client, ep, ids, world.h(role))

    if ORDER.index(role) < ORDER.index(ep.role):
        assert r.status_code == 403, (r.status_code, r.text)
        assert r.json()["type"].endswith("/forbidden")
        assert (snapshot(app, ids), account_state(app, world.users[role])) == before
    else:
        assert r.status_code < 300, (r.status_code, r.text)


def test_readme_documents_the_whole_role_matrix(api_app):
    """README's table is the matrix above, and every operation a user token reaches is in it."""
    import re
    from pathlib import Path

    from starlette.routing import Match

    from postiz_pipelines.api.openapi import takes_user_token

    routes = [r for r in api_app.state.api_routes if takes_user_token(r)]

    def template(ep: Endpoint) -> str:
        path = fill(ep.path, {"ws": "ws_1", "tag": "t"}).split("?")[0]
        path = re.sub(r"\{\w+\}", "x_1", path)
        scope = {"type": "http", "path": path, "method": ep.method, "root_path": ""}
        found = [r.path for r in routes if r.matches(scope)[0] == Match.FULL]
        assert len(found) == 1, (str(ep), found)
        return f"{ep.method} {found[0]}"

    tested = {(template(ep), ep.variant): ep.role for ep in MATRIX}
    readme = Path(__file__).resolve().parents[2] / "README.md"
    rows = re.findall(r"^\| `(\w+ /[^`]+)`([^|]*)\| (\w+) \|", readme.read_text(), re.MULTILINE)
    documented = {(op, variant.strip(" ,")): role for op, variant, role in rows}
    assert documented == tested
    every = {f"{m} {r.path}" for r in routes for m in r.methods or ()}
    assert every == {op for op, _ in tested}, "an operation is missing from the role matrix"
