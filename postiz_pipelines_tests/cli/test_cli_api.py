"""CLI commands for the API's operations: bootstrap users and tokens, members, posts, the
dead-letter queue, media, stats and webhooks; tables for people, --json for scripts."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from sqlalchemy import select

from postiz_pipelines.core.models import PublishJob
from postiz_pipelines.core.publishing import queue
from postiz_pipelines.core.workspaces import auth


def _json(result) -> list[dict]:  # type: ignore[no-untyped-def]
    return json.loads(result.output)


def _setup(run) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    run("workspaces", "create", "--slug", "acme", "--timezone", "UTC")
    acc = _json(
        run(
            "accounts",
            "add",
            "--workspace",
            "acme",
            "--platform",
            "mastodon",
            "--handle",
            "al",
            "--token",
            "tok-al",
            "--base-url",
            "http://sandbox.test/mastodon",
            "--json",
        )
    )[0]["id"]
    return "acme", acc


def test_users_create_prints_a_working_token_once(run, app, clock):
    run("workspaces", "create", "--slug", "acme")
    out = run(
        "users", "create", "--email", "Boss@Example.com", "--workspace", "acme", "--role", "owner"
    ).output
    token = out.strip().splitlines()[-1]
    assert token.startswith("pz_") and "shown once" in out
    with app.db.read() as s:
        user, _ = auth.verify_token(s, token, now=clock.now())
        assert user.email == "boss@example.com"
        assert auth.memberships(s, user.id) and list(auth.memberships(s, user.id).values()) == [
            "owner"
        ]
    again = run("users", "create", "--email", "boss@example.com", code=1)
    assert "exists" in again.output
    listed = run("tokens", "list", "--email", "boss@example.com", "--json").output
    assert token not in listed and token[:10] in listed


def test_tokens_create_list_revoke(run, app, clock):
    run("users", "create", "--email", "a@b.test", "--no-token")
    made = _json(
        run(
            "tokens",
            "create",
            "--email",
            "a@b.test",
            "--name",
            "ci",
            "--expires-in-days",
            "30",
            "--json",
        )
    )[0]
    assert made["token"].startswith("pz_") and made["expires_at"]
    rows = _json(run("tokens", "list", "--email", "a@b.test", "--json"))
    assert [r["name"] for r in rows] == ["ci"] and "token" not in rows[0]
    run("tokens", "revoke", made["id"])
    with app.db.read() as s:
        assert auth.verify_token(s, made["token"], now=clock.now()) is None
    assert run("tokens", "revoke", "tok_missing", code=1).output.startswith("error:")


def test_members_keep_an_owner(run):
    run("workspaces", "create", "--slug", "acme")
    run("users", "create", "--email", "o@x.test", "--workspace", "acme", "--role", "owner")
    run("users", "create", "--email", "e@x.test", "--no-token")
    run("members", "set", "--workspace", "acme", "--email", "e@x.test", "--role", "editor")
    roles = {
        m["email"]: m["role"]
        for m in _json(run("members", "list", "--workspace", "acme", "--json"))
    }
    assert roles == {"o@x.test": "owner", "e@x.test": "editor"}
    assert (
        "at least one owner"
        in run("members", "remove", "--workspace", "acme", "--email", "o@x.test", code=1).output
    )
    assert (
        "boss"
        in run(
            "members", "set", "--workspace", "acme", "--email", "e@x.test", "--role", "boss", code=2
        ).output
    )  # click refuses an unknown role, naming it


def test_post_operations_and_dead_letter(run, app, clock):
    ws, acc = _setup(run)
    at = (clock.now() + timedelta(hours=1)).isoformat()
    post = _json(
        run(
            "posts",
            "create",
            "--workspace",
            ws,
            "--text",
            "hi",
            "--account",
            acc,
            "--at",
            at,
            "--json",
        )
    )[0]
    later = (clock.now() + timedelta(hours=3)).isoformat()
    edited = _json(run("posts", "edit", post["id"], "--text", "hello", "--at", later, "--json"))[0]
    assert edited["scheduled_at"] == later and edited["content"] == "hello"
    shown = json.loads(run("posts", "show", post["id"], "--json").output)
    assert shown["targets"][0]["accountId"] == acc
    assert _json(run("posts", "cancel", post["id"], "--json"))[0]["status"] == "canceled"
    assert "nothing left to cancel" in run("posts", "cancel", post["id"], code=1).output

    other = _json(
        run("posts", "create", "--workspace", ws, "--text", "x", "--account", acc, "--json")
    )[0]
    with app.db.session() as s:
        job = s.scalar(select(PublishJob).where(PublishJob.post_id == other["id"]))
        queue.fail(
            s, job.id, owner=None, now=clock.now(), error="refused", error_class="content_rejected"
        )
    dead = _json(run("dead-letter", "list", "--json"))
    assert [d["id"] for d in dead] == [job.id]
    assert dead[0]["may_be_live"] == ""  # refused: not on the platform
    assert _json(run("dead-letter", "requeue", job.id, "--json"))[0]["status"] == "pending"
    assert run("dead-letter", "cancel", job.id, code=1).output.startswith(
        "error:"
    )  # no longer failed
    assert _json(run("posts", "attempts", other["id"], "--json")) == []
    assert "no failed jobs" in run("posts", "retry", other["id"], code=1).output


def test_media_upload_dedups_and_lists(run, tmp_path):
    from PIL import Image

    run("workspaces", "create", "--slug", "acme")
    path = tmp_path / "p.png"
    buf = io.BytesIO()
    Image.new("RGB", (12, 7)).save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    first = _json(run("media", "upload", str(path), "--workspace", "acme", "--json"))[0]
    assert (first["width"], first["height"], first["deduplicated"]) == (12, 7, False)
    second = _json(run("media", "upload", str(path), "--workspace", "acme", "--json"))[0]
    assert second["id"] == first["id"] and second["deduplicated"] is True
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert (
        "accepted media type"
        in run("media", "upload", str(text), "--workspace", "acme", code=1).output
    )
    assert [m["id"] for m in _json(run("media", "list", "--workspace", "acme", "--json"))] == [
        first["id"]
    ]


def test_stats_webhooks_and_api_command(run):
    run("workspaces", "create", "--slug", "acme")
    stats = json.loads(run("stats").output)
    assert set(stats) >= {"timestamp", "queue", "activity", "workspaces"}
    hook = _json(
        run("webhooks", "add", "--workspace", "acme", "--url", "https://hooks.test/a", "--json")
    )[0]
    assert hook["secret"].startswith("whsec_")
    assert [h["id"] for h in _json(run("webhooks", "list", "--workspace", "acme", "--json"))] == [
        hook["id"]
    ]
    assert (
        "must be some of"
        in run(
            "webhooks",
            "add",
            "--workspace",
            "acme",
            "--url",
            "https://h.test",
            "--event",
            "post.exploded",
            code=1,
        ).output
    )
    run("webhooks", "remove", hook["id"])
    assert _json(run("webhooks", "list", "--workspace", "acme", "--json")) == []
    assert json.loads(run("webhooks", "deliver").output)["sent"] == 0
    assert "--port" in run("api", "--help").output
