"""The queue's hot paths at size: claiming a partition's due jobs among many, and expanding
recurring schedules; SQLite and (when reachable) PostgreSQL side by side."""

from __future__ import annotations

import json
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import Timer, bench_app, seed  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.publishing.queue import claim_due_jobs  # noqa: E402
from postiz_pipelines.core.scheduling.expansion import expand_schedules  # noqa: E402
from postiz_pipelines.core.scheduling.schedules import Recurrence
from postiz_pipelines.core.workspaces.store import get_workspace  # noqa: E402

PG_ADMIN = os.environ.get(
    "POSTIZ_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
JOBS = 20_000


def pg_database() -> str | None:
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"pz_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    except Exception:  # noqa: BLE001
        return None


def drop(url: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def measure(url: str | None) -> dict[str, object]:
    now = datetime.now(UTC)
    with bench_app(url=url) as app:
        # many jobs far in the future, 500 due now in one partition
        seed(
            app,
            accounts=20,
            posts_per_account=JOBS // 20,
            base_url="https://m.example",
            slug="future",
            run_at=now + timedelta(days=3),
        )
        ws_id, _ = seed(
            app,
            accounts=5,
            posts_per_account=100,
            base_url="https://m.example",
            slug="due",
            run_at=now,
        )
        with Timer() as t_claim:
            claimed = claim_due_jobs(
                app.db, owner="bench", now=now, workspace_id=ws_id, platform="mastodon", limit=500
            )
        assert len(claimed) == 500
        with app.db.session() as s:
            ws = get_workspace(s, "due")
            accounts = [t.account_id for t in claimed[:1]]
            for i in range(200):
                create_post(
                    s,
                    workspace=ws,
                    text=f"recurring {i}",
                    account_ids=accounts,
                    scheduled_at=None,
                    now=now,
                    recurrence=Recurrence(cron=f"{i % 60} * * * *", starts_at=now),
                )
        with Timer() as t_expand:
            report = expand_schedules(app.db, now=now + timedelta(hours=1))
        with Timer() as t_again:
            again = expand_schedules(app.db, now=now + timedelta(hours=1))
        assert again.jobs_created == 0
    return {
        f"claim_500_of_{JOBS + 500}_ms": round(t_claim.seconds * 1000, 1),
        "expand_200_hourly_schedules_ms": round(t_expand.seconds * 1000, 1),
        "jobs_created": report.jobs_created,
        "expand_again_idempotent_ms": round(t_again.seconds * 1000, 1),
    }


def main() -> dict[str, object]:
    out: dict[str, object] = {"benchmark": "claim_and_expand", "sqlite": measure(None)}
    pg = pg_database()
    if pg:
        try:
            out["postgresql"] = measure(pg)
        finally:
            drop(pg)
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
