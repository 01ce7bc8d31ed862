"""At creation, what TikTok and Reddit say about the account is read when the account has no
copy (or one over a day old), kept on the account, and the post validated against it; a
platform out of reach is a warning (the post is accepted and checked again before posting);
a subreddit that does not exist is a refusal. Through HTTP, over the sandbox."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from postiz_pipelines.core.accounts.store import add_account
from postiz_pipelines.core.models import Post, SocialAccount, Workspace
from postiz_pipelines.sandbox.tiktok_world import tiktok_world

POSTS = "/api/postiz/posts"
SANDBOX = "http://sandbox.test"
CREATOR_INFO = "POST /v2/post/publish/creator_info/query/"
REQUIREMENTS = "GET /api/v1/{sr}/post_requirements"


def connect(app, world, clock, sandbox_state, platform: str, **settings) -> str:  # type: ignore[no-untyped-def]
    token = f"tok-{platform}-fresh"
    remote = sandbox_state.provision(platform, token, username=f"{platform}_zoë")
    with app.db.session() as s:
        return add_account(
            s,
            app.keyring,
            workspace=s.get(Workspace, world.a),
            platform=platform,
            handle=remote.username,
            external_id=remote.id,
            access_token=token,
            base_url=f"{SANDBOX}/{platform}",
            settings=settings,
            now=clock.now(),
        ).id


def saved(app, account_id: str) -> dict:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        row = s.get(SocialAccount, account_id)
        assert row is not None
        return dict(row.settings or {})


def posts(app) -> int:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return s.scalar(select(func.count()).select_from(Post)) or 0


def test_a_creators_settings_are_read_kept_and_enforced_at_creation(
    client, world, app, clock, sandbox_state, soon
) -> None:  # type: ignore[no-untyped-def]
    acc = connect(app, world, clock, sandbox_state, "tiktok")
    remote = sandbox_state.provision("tiktok", "tok-tiktok-fresh")
    tiktok_world(sandbox_state).creator(remote.id).duet_disabled = True
    body = {
        "content": "Tanz 💃 ohne Duett",
        "workspaceId": world.a,
        "targetAccounts": [acc],
        "scheduledAt": soon(600),
        "settings": {"allow_duet": True},
    }
    refused = client.post(POSTS, headers=world.h(), json=body)
    assert refused.status_code == 422
    fields = {p["field"]: p for p in refused.json()["problems"]}
    assert "duets off" in fields["tiktok.allow_duet"]["message"]
    kept = saved(app, acc)
    assert kept["creator_info"]["duet_disabled"] is True
    assert kept["creator_info_read_at"] == clock.now().isoformat()
    client.post(POSTS, headers=world.h(), json=body)  # a fresh copy: not read again
    assert sandbox_state.request_count("tiktok", CREATOR_INFO) == 1
    clock.advance(timedelta(hours=25).total_seconds())
    body["scheduledAt"] = soon(600)
    client.post(POSTS, headers=world.h(), json=body)  # a day old: read again
    assert sandbox_state.request_count("tiktok", CREATOR_INFO) == 2
    assert posts(app) == 0


def test_a_subreddits_requirements_are_read_and_enforced_at_creation(
    client, world, app, clock, sandbox_state, soon
) -> None:  # type: ignore[no-untyped-def]
    acc = connect(app, world, clock, sandbox_state, "reddit")
    body = {
        "content": "Körper des Beitrags",
        "workspaceId": world.a,
        "targetAccounts": [acc],
        "scheduledAt": soon(600),
        "settings": {"subreddit": "r/AskReddit", "title": "Warum? 🤔"},
    }
    refused = client.post(POSTS, headers=world.h(), json=body)
    assert refused.status_code == 422, refused.text
    messages = {p["field"]: p["message"] for p in refused.json()["problems"]}
    assert "this subreddit takes 10 to 300" in messages["reddit.title"]
    assert "flair" in messages["reddit.flair_id"]
    assert set(saved(app, acc)["subreddit_rules"]) == {"AskReddit"}
    missing = client.post(
        POSTS, headers=world.h(), json={**body, "settings": {"subreddit": "nope", "title": "x"}}
    )
    assert missing.status_code == 422
    [problem] = missing.json()["problems"]
    assert problem["field"] == "reddit.subreddit" and "does not exist" in problem["message"]
    fits = {"subreddit": "test", "title": "Ein Titel, der passt"}
    created = client.post(POSTS, headers=world.h(), json={**body, "settings": fits})
    assert created.status_code == 201, created.text
    assert created.json()["warnings"] == []
    assert set(saved(app, acc)["subreddit_rules"]) == {"AskReddit", "test"}


def test_a_platform_out_of_reach_is_a_warning_not_a_refusal(
    client, world, app, clock, sandbox_state, soon
) -> None:  # type: ignore[no-untyped-def]
    acc = connect(app, world, clock, sandbox_state, "reddit")
    sandbox_state.faults.set("reddit", outage=True)
    body = {
        "content": "Trotz Ausfall",
        "workspaceId": world.a,
        "targetAccounts": [acc],
        "scheduledAt": soon(600),
        "settings": {"subreddit": "test", "title": "Läuft trotzdem"},
    }
    created = client.post(POSTS, headers=world.h(), json=body)
    assert created.status_code == 201, created.text
    [warning] = created.json()["warnings"]
    assert "r/test post requirements" in warning and "checked against them before" in warning
    assert "tok-reddit" not in warning  # no secret in what is said
    assert "subreddit_rules" not in saved(app, acc)
    assert sandbox_state.request_count("reddit", REQUIREMENTS) >= 1
