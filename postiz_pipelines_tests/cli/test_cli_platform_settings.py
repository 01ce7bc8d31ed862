"""The CLI with the platforms that need settings: a Reddit post without a subreddit is
refused (exit 1, the field named, nothing stored), account and post settings given as
``--setting KEY=VALUE`` reach validation, and a malformed pair is a usage error."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from postiz_pipelines.core.models import Post, SocialAccount


def account(run, platform: str, *settings: str) -> str:  # type: ignore[no-untyped-def]
    args = [
        "accounts",
        "add",
        "--workspace",
        "acme",
        "--platform",
        platform,
        "--handle",
        "acme",
        "--token",
        f"tok-{platform}",
        "--json",
    ]
    for pair in settings:
        args += ["--setting", pair]
    return json.loads(run(*args).output)[0]["id"]


def test_settings_reach_validation(run, app) -> None:  # type: ignore[no-untyped-def]
    run("workspaces", "create", "--slug", "acme", "--timezone", "Europe/Berlin")
    reddit = account(run, "reddit")
    refused = run(
        "posts", "create", "--workspace", "acme", "--account", reddit, "--text", "Hallo", code=1
    )
    assert "reddit.subreddit: name the subreddit to post to" in refused.output
    too_long = run(
        "posts",
        "create",
        "--workspace",
        "acme",
        "--account",
        reddit,
        "--text",
        "x",
        "--setting",
        "subreddit=python",
        "--setting",
        f"title={'t' * 301}",
        code=1,
    )
    assert "reddit.title: title is 301 characters, limit 300" in too_long.output
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 0
    run(
        "posts",
        "create",
        "--workspace",
        "acme",
        "--account",
        reddit,
        "--text",
        "Hallo Welt",
        "--setting",
        "subreddit=python",
        "--setting",
        "nsfw=true",
    )
    with app.db.read() as s:
        post = s.scalars(select(Post)).one()
    assert post.settings == {"subreddit": "python", "nsfw": True}

    youtube = account(run, "youtube", "audited=true")
    with app.db.read() as s:
        assert s.get(SocialAccount, youtube).settings == {"audited": True}
    bad = run(
        "accounts",
        "add",
        "--workspace",
        "acme",
        "--platform",
        "pinterest",
        "--handle",
        "p",
        "--token",
        "t",
        "--setting",
        "board_id",
        code=2,
    )
    assert "--setting" in bad.output and "KEY=VALUE" in bad.output
