"""The demo workspace: sandbox accounts and a few posts due over the next minutes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.accounts import add_account
from postiz_pipelines.core.crypto import Keyring
from postiz_pipelines.core.models import SocialAccount, Workspace
from postiz_pipelines.core.posts import create_post
from postiz_pipelines.core.workspaces import create_workspace

DEMO_SLUG = "demo"
DEMO_ACCOUNTS = [
    # platform, handle, token (the sandbox accepts any token it has not revoked)
    ("mastodon", "alice", "demo-mastodon-alice"),
    ("mastodon", "bob", "demo-mastodon-bob"),
]
DEMO_TEXTS = [
    "Good morning from the postiz_pipelines demo! #scheduling",
    "Write once, publish everywhere, on time. https://example.org/postiz",
    "Retries with backoff, rate limits and never a duplicate post.",
    "Every post is one row in a durable queue, claimed under a lease.",
    "Dagster launches one run per workspace and platform, not one per post.",
    "Time zones done right: 09:00 local stays 09:00 local across DST.",
]


def seed_demo(
    session: Session,
    keyring: Keyring,
    *,
    sandbox_url: str,
    now: datetime,
    posts: int = 6,
    spread_seconds: int = 180,
) -> dict[str, Any]:
    """Create (or reuse) the demo workspace and its accounts, then add ``posts`` posts due
    between 30 s and ``spread_seconds`` from ``now``. Running it again adds new posts."""
    ws = session.scalar(select(Workspace).where(Workspace.slug == DEMO_SLUG))
    if ws is None:
        ws = create_workspace(session, slug=DEMO_SLUG, name="Demo brand", timezone="Europe/Berlin",
                              now=now, actor="demo")
    accounts = []
    for platform, handle, token in DEMO_ACCOUNTS:
        acc = session.scalar(
            select(SocialAccount).where(
                SocialAccount.workspace_id == ws.id, SocialAccount.platform == platform,
                SocialAccount.handle == handle, SocialAccount.deleted_at.is_(None),
            )
        )
        if acc is None:
            acc = add_account(session, keyring, workspace=ws, platform=platform, handle=handle,
                              access_token=token, base_url=f"{sandbox_url.rstrip('/')}/{platform}",
                              now=now, actor="demo")
        accounts.append(acc)
    created = []
    step = (spread_seconds - 30) / max(posts - 1, 1) if spread_seconds > 30 else 0
    for i in range(posts):
        when = now + timedelta(seconds=30 + i * step) if spread_seconds else now
        text = f"{DEMO_TEXTS[i % len(DEMO_TEXTS)]} [{now:%H%M%S}-{i + 1}]"
        post = create_post(session, workspace=ws, text=text, account_ids=[a.id for a in accounts],
                           scheduled_at=when, now=now, actor="demo")
        created.append({"post": post.id, "scheduled_at": when.isoformat(timespec="seconds")})
    return {"workspace": ws.slug, "accounts": [a.handle for a in accounts], "posts": created}
