"""Group commit: transactions that arrive together share one commit; a failing one is undone
alone; a result is handed back only once its group is committed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from postiz_pipelines.core.models import Workspace
from postiz_pipelines.core.publishing.group_commit import GroupCommit, GroupedDatabase
from postiz_pipelines.core.workspaces.store import create_workspace

NOW = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def _create(db: GroupedDatabase, slug: str, fail: bool = False) -> str:
    with db.session() as s:
        ws = create_workspace(s, slug=slug, timezone=None, now=NOW)
        s.flush()
        if fail:
            raise ValueError(f"{slug}: refused after writing")
        return ws.id


def _slugs(app) -> set[str]:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return set(s.scalars(select(Workspace.slug)))


def test_a_failing_member_is_undone_alone(app):
    grouped = GroupedDatabase(app.db)
    results = grouped.run_group(
        [
            lambda: _create(grouped, "first"),
            lambda: _create(grouped, "broken", fail=True),
            lambda: _create(grouped, "third"),
        ]
    )
    assert [ok for ok, _ in results] == [True, False, True]
    assert isinstance(results[1][1], ValueError)
    assert _slugs(app) == {"first", "third"}


def test_a_group_of_one_fails_as_itself(app):
    grouped = GroupedDatabase(app.db)
    [(ok, exc)] = grouped.run_group([lambda: _create(grouped, "alone", fail=True)])
    assert not ok and isinstance(exc, ValueError)
    assert _slugs(app) == set()


def test_transactions_arriving_together_share_commits(app):
    commits = GroupCommit(app.db, writers=3)

    async def main() -> list[str]:
        try:
            return await asyncio.gather(
                *(commits.run(_create, commits.db, f"ws{i}") for i in range(30))
            )
        finally:
            commits.close()

    ids = asyncio.run(main())
    assert len(set(ids)) == 30 and _slugs(app) == {f"ws{i}" for i in range(30)}
    assert commits.transactions == 30
    assert commits.groups < 30  # some commits were shared


def test_a_failure_reaches_only_its_caller(app):
    commits = GroupCommit(app.db)

    async def main() -> None:
        try:
            ok = commits.run(_create, commits.db, "kept")
            bad = commits.run(_create, commits.db, "lost", True)
            results = await asyncio.gather(ok, bad, return_exceptions=True)
            assert isinstance(results[0], str) and isinstance(results[1], ValueError)
        finally:
            commits.close()

    asyncio.run(main())
    assert _slugs(app) == {"kept"}
