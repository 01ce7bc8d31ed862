"""The demo seeds one sandbox account per platform and a post each platform can take."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from postiz_pipelines.cli.demo import seed_demo
from postiz_pipelines.core.models import Platform, PostTarget, SocialAccount
from postiz_pipelines.sandbox.server import running_sandbox
from postiz_pipelines.sandbox.state import SandboxState


def test_the_demo_covers_every_platform(app, clock) -> None:  # type: ignore[no-untyped-def]
    with running_sandbox(state=SandboxState(seed=1)) as url:
        with app.db.session() as s:
            summary = seed_demo(
                s, app.keyring, sandbox_url=url, now=clock.now(), media_root=app.media_root
            )
    assert summary["accounts"] == sorted(p.value for p in Platform)
    assert [p["targets"] for p in summary["posts"]] == [12, 2, 10, 10, 10, 10]
    with app.db.read() as s:
        rows = s.execute(
            select(SocialAccount.platform, PostTarget.post_id).join(PostTarget.account)
        ).all()
        pinterest = s.scalar(select(SocialAccount).where(SocialAccount.platform == "pinterest"))
        tiktok = s.scalar(select(SocialAccount).where(SocialAccount.platform == "tiktok"))
    per_platform = Counter(platform for platform, _ in rows)
    assert set(per_platform) == {p.value for p in Platform}
    assert per_platform["youtube"] == per_platform["instagram"] == 1
    assert (
        pinterest is not None
        and pinterest.settings["board_id"] == pinterest.settings["boards"][0]["id"]
    )
    assert (
        tiktok is not None
        and "SELF_ONLY" in tiktok.settings["creator_info"]["privacy_level_options"]
    )
