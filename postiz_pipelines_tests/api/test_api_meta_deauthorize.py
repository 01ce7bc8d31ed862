"""Removing the app on Facebook disconnects what was connected through that login: the
Pages (and their Instagram accounts) connected with the person's token keep Meta's
app-scoped user id, and a verified deauthorize ``signed_request`` naming it moves them to
``reconnect_needed`` with their waiting jobs held, never failed."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from postiz_pipelines.core.models import AccountStatus, JobStatus, PublishJob, SocialAccount
from postiz_pipelines_tests.api.conftest import SANDBOX
from postiz_pipelines_tests.api.test_api_connect import begin, consent
from postiz_pipelines_tests.api.test_api_platform_webhooks import META_SECRET, meta_signed_request

HOOK = "/api/postiz/webhooks"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "POSTIZ_SANDBOX_URL": SANDBOX, "POSTIZ_META_APP_SECRET": META_SECRET}


@pytest.fixture
def browser(make_client, transport):  # type: ignore[no-untyped-def]
    return make_client(transport.app)


def _connect_pages(client, browser, world) -> list[dict]:  # type: ignore[no-untyped-def]
    callback = consent(browser, begin(client, world, "facebook"), sandbox_user="Zoë Café")
    state = parse_qs(urlsplit(callback).query)["state"][0]
    choices = client.get(callback, headers=world.h()).json()["choices"]
    r = client.post(
        "/api/postiz/oauth/facebook/select",
        headers=world.h(),
        json={"state": state, "ids": [c["id"] for c in choices]},
    )
    assert r.status_code == 200, r.text
    return r.json()["accounts"]


def test_a_verified_deauthorize_holds_the_pages_of_that_login(client, browser, world, app, clock):  # type: ignore[no-untyped-def]
    pages = _connect_pages(client, browser, world)
    assert len(pages) == 2
    with app.db.read() as s:
        rows = list(s.scalars(select(SocialAccount).where(SocialAccount.platform == "facebook")))
    user_ids = {(r.settings or {}).get("user_id") for r in rows}
    assert len(user_ids) == 1 and None not in user_ids and "" not in user_ids
    (user_id,) = user_ids
    post = client.post(
        "/api/postiz/posts",
        headers=world.h(),
        json={
            "content": "à demain 🌅",
            "workspaceId": world.a,
            "targetAccounts": [pages[0]["id"]],
            "scheduledAt": (clock.now().replace(microsecond=0)).isoformat().replace("+00:00", "Z"),
        },
    )
    assert post.status_code == 201, post.text

    someone_else = {
        "algorithm": "HMAC-SHA256",
        "issued_at": int(clock.now().timestamp()),
        "user_id": "another-person",
    }
    r = client.post(
        f"{HOOK}/facebook/deauthorize", data={"signed_request": meta_signed_request(someone_else)}
    )
    assert r.status_code == 200
    with app.db.read() as s:
        assert {a.status for a in s.scalars(select(SocialAccount))} == {AccountStatus.ACTIVE}

    theirs = {**someone_else, "user_id": user_id, "issued_at": someone_else["issued_at"] + 1}
    r = client.post(
        f"{HOOK}/facebook/deauthorize", data={"signed_request": meta_signed_request(theirs)}
    )
    assert r.status_code == 200, r.text
    assert sorted(r.json()["actions"][0]["accounts"]) == sorted(p["id"] for p in pages)
    with app.db.read() as s:
        statuses = {
            a.id: a.status
            for a in s.scalars(select(SocialAccount).where(SocialAccount.platform == "facebook"))
        }
        jobs = list(s.scalars(select(PublishJob)))
    assert set(statuses.values()) == {AccountStatus.RECONNECT_NEEDED}
    assert [j.status for j in jobs] == [JobStatus.HELD] and jobs[0].attempts == 0
