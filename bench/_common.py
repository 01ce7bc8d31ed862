"""Shared set-up for the benchmarks: a throwaway app database with accounts and due jobs."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from postiz_pipelines.core.accounts.store import add_account
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.migrate import upgrade
from postiz_pipelines.core.models import Post, PostTarget
from postiz_pipelines.core.publishing.queue import enqueue, new_job_row
from postiz_pipelines.core.workspaces.store import create_workspace
from postiz_pipelines.crypto import Keyring
from postiz_pipelines.settings import Settings


@contextmanager
def bench_app(extra: dict[str, str] | None = None, url: str | None = None) -> Iterator[AppContext]:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(db_url)
        env = {
            "POSTIZ_DATABASE_URL": db_url,
            "POSTIZ_DATA_DIR": tmp,
            "POSTIZ_ENCRYPTION_KEY": Keyring.generate_spec("bench"),
            "POSTIZ_WORKER_RATE_LIMIT_DELAY": "0",
            "POSTIZ_LOOKAHEAD_SECONDS": "0",
            **(extra or {}),
        }
        app = AppContext.from_settings(Settings.from_env(env))
        try:
            yield app
        finally:
            app.close()


def seed(
    app: AppContext,
    *,
    accounts: int,
    posts_per_account: int,
    base_url: str,
    slug: str = "bench",
    run_at: datetime | None = None,
) -> tuple[str, list[str]]:
    """A workspace with ``accounts`` Mastodon accounts and their due jobs; returns (ws id, job
    ids)."""
    now = datetime.now(UTC)
    run_at = run_at or now
    ids: list[str] = []
    with app.db.session() as s:
        ws = create_workspace(s, slug=slug, timezone="UTC", now=now)
        for a in range(accounts):
            acc = add_account(
                s,
                app.keyring,
                workspace=ws,
                platform="mastodon",
                handle=f"h{a}",
                access_token=f"tok-{slug}-{a}",
                base_url=base_url,
                now=now,
            )
            rows = []
            for i in range(posts_per_account):
                post = Post(
                    id=new_id("post"),
                    workspace_id=ws.id,
                    content=f"bench {a}-{i}",
                    scheduled_at=run_at,
                )
                target = PostTarget(id=new_id("tgt"), account_id=acc.id)
                post.targets.append(target)
                s.add(post)
                s.flush()
                rows.append(
                    new_job_row(
                        workspace_id=ws.id,
                        platform="mastodon",
                        post_id=post.id,
                        target_id=target.id,
                        account_id=acc.id,
                        run_at=run_at,
                        now=now,
                    )
                )
            enqueue(s, rows)
            ids += [r["id"] for r in rows]
        return ws.id, ids


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
