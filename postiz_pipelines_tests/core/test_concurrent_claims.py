"""Many claimers over the same due jobs never claim one job twice (PostgreSQL and SQLite)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from postiz_pipelines.core.db import Database
from postiz_pipelines.core.models import JobStatus, PublishJob
from postiz_pipelines.core.publishing import queue


def test_concurrent_claimers_never_share_a_job(app, make, clock, db_url):
    ws = make.workspace()
    acc = make.account(ws)
    total = 1000
    make.jobs(ws, acc, total, run_at=clock.now() - timedelta(seconds=1))

    claimers = 6
    claimed: dict[str, list[str]] = {f"w{i}": [] for i in range(claimers)}
    errors: list[BaseException] = []
    barrier = threading.Barrier(claimers)

    def work(owner: str) -> None:
        db = Database(db_url)  # each claimer has its own engine and connections
        try:
            # Rounds: every claimer races for a batch, then all compare notes, so each one
            # really contends (without rounds one SQLite writer can take everything).
            while True:
                barrier.wait()
                batch = queue.claim_due_jobs(
                    db,
                    owner=owner,
                    now=clock.now(),
                    limit=37,
                    workspace_id=ws.id,
                    platform="mastodon",
                )
                claimed[owner].extend(j.id for j in batch)
                barrier.wait()
                if sum(len(ids) for ids in claimed.values()) >= total:
                    return
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            barrier.abort()
        finally:
            db.dispose()

    threads = [threading.Thread(target=work, args=(o,)) for o in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert not errors, errors
    every = [j for ids in claimed.values() for j in ids]
    dupes = [j for j, n in Counter(every).items() if n > 1]
    assert dupes == []
    assert len(every) == total
    assert sum(1 for ids in claimed.values() if ids) >= 2  # the work really was shared
    with app.db.read() as s:
        rows = s.execute(select(PublishJob.id, PublishJob.status, PublishJob.lease_owner)).all()
    owner_of = {j: o for o, ids in claimed.items() for j in ids}
    assert all(st == JobStatus.RUNNING and owner_of[j] == lo for j, st, lo in rows)
