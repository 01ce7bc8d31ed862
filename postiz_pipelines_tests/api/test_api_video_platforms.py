"""Creating posts for YouTube, TikTok, Pinterest and Reddit through HTTP: each platform's
limits refuse the post at creation, as problem JSON naming the field and the limit, and
nothing is stored."""

from __future__ import annotations

from sqlalchemy import func, select

from postiz_pipelines.core.accounts.store import add_account
from postiz_pipelines.core.models import Post, Workspace

POSTS = "/api/postiz/posts"


def accounts(app, world, clock) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = {}
    with app.db.session() as s:
        ws = s.get(Workspace, world.a)
        for platform in ("youtube", "tiktok", "pinterest", "reddit"):
            out[platform] = add_account(
                s,
                app.keyring,
                workspace=ws,
                platform=platform,
                handle=f"{platform}-acme",
                access_token=f"tok-{platform}",
                base_url=f"http://sandbox.test/{platform}",
                now=clock.now(),
            ).id
    return out


def test_each_platforms_limits_refuse_the_post_at_creation(client, world, soon, app, clock) -> None:  # type: ignore[no-untyped-def]
    ids = accounts(app, world, clock)
    body = {
        "content": "Ein Titel, der zu lang ist ✂️ " * 12,
        "workspaceId": world.a,
        "targetAccounts": list(ids.values()),
        "scheduledAt": soon(600),
        "overrides": {
            ids["youtube"]: {"settings": {"privacy_status": "public"}},
            ids["tiktok"]: {"settings": {"privacy_level": "PUBLIC_TO_EVERYONE"}},
            ids["pinterest"]: {"settings": {"link": "javascript:alert(1)"}},
            ids["reddit"]: {"settings": {"title": "t" * 301}},
        },
    }
    refused = client.post(POSTS, headers=world.h(), json=body)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problems = {(p["field"], p["message"]) for p in refused.json()["problems"]}
    fields = {f for f, _ in problems}
    assert {"youtube.media", "youtube.title", "youtube.privacy_status"} <= fields
    assert {"tiktok.media", "tiktok.privacy_level"} <= fields
    assert {"pinterest.media", "pinterest.board_id", "pinterest.link"} <= fields
    assert ("reddit.title", "title is 301 characters, limit 300") in problems
    assert "reddit.subreddit" in fields
    by_field = {p["field"]: p for p in refused.json()["problems"]}
    assert by_field["youtube.title"]["limit"] == 100 and by_field["youtube.title"]["value"] > 100
    assert "not audited" in by_field["youtube.privacy_status"]["message"]
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 0


def test_a_reddit_text_post_that_fits_is_accepted(client, world, soon, app, clock) -> None:  # type: ignore[no-untyped-def]
    ids = accounts(app, world, clock)
    body = {
        "content": "Grüße 👋\nbody",
        "workspaceId": world.a,
        "targetAccounts": [ids["reddit"]],
        "scheduledAt": soon(600),
        "settings": {"subreddit": "r/test", "nsfw": True},
    }
    created = client.post(POSTS, headers=world.h(), json=body)
    assert created.status_code == 201, created.text
