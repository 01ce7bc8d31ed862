"""Group commit: the engine's short write transactions, many to one commit.

Every intent and outcome the engine records is one transaction of ``outcomes.py``. Run one
by one from many tasks, they queue for SQLite's single write lock (its busy handler sleeps)
and each pays a commit. Here they go to writer threads (one on SQLite, a few on PostgreSQL);
the transactions that arrive while the writers are busy are run together, each in its own
SAVEPOINT (a failing one is undone alone), and committed once. A caller's result is handed
back only after that commit, so the rules hold as before: the intent is committed before the
platform call, the outcome right after, and every transition is fenced on the lease inside
its own savepoint.

If the group's transaction itself fails (a dropped connection, a lock timeout), it is rolled
back whole and each of its transactions is run again on its own, with the retries it has
alone (``db.retry_transient_db``): each is whole or nothing, so running it again is safe.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from postiz_pipelines.core.db import Database

T = TypeVar("T")
MAX_GROUP = 200


class GroupBroken(Exception):
    """The group's transaction failed under one of its members; none of it is kept.

    Deliberately not an ``OperationalError``: the member's own retry must not retry inside
    the broken transaction."""


class GroupedDatabase(Database):
    """The app database as the engine's recorder sees it: ``session()`` joins the writer
    thread's open group when there is one (as a SAVEPOINT), else opens its own transaction."""

    def __init__(self, db: Database) -> None:  # shares the engine; no new pool
        self.url = db.url
        self.engine = db.engine
        self._writer = db._writer
        self._reader = db._reader
        self._local = threading.local()

    @contextmanager
    def session(self) -> Iterator[Session]:
        outer: Session | None = getattr(self._local, "session", None)
        if outer is None:
            with super().session() as s:
                yield s
            return
        try:
            if getattr(self._local, "alone", False):
                yield outer  # a group of one: its transaction is the group's
            else:
                with outer.begin_nested():
                    yield outer
        except (OperationalError, InterfaceError) as exc:
            raise GroupBroken(str(exc)) from exc

    def run_group(self, calls: list[Callable[[], Any]]) -> list[tuple[bool, Any]]:
        """Run ``calls`` in one transaction; (ok, result or exception) each. Writer thread."""
        try:
            results: list[tuple[bool, Any]] = []
            with super().session() as s:
                self._local.session = s
                self._local.alone = len(calls) == 1
                try:
                    for call in calls:
                        try:
                            results.append((True, call()))
                        except GroupBroken:
                            raise
                        except Exception as exc:  # undone by its savepoint; the group goes on
                            if self._local.alone:
                                raise
                            results.append((False, exc))
                        if not self._local.alone:
                            # its savepoint is released (flushed): the next member reads the
                            # database, not this one's cached rows
                            s.expire_all()
                finally:
                    self._local.session = None
                    self._local.alone = False
            return results
        except (GroupBroken, OperationalError, InterfaceError):
            return [_alone(call) for call in calls]
        except Exception as exc:  # a group of one that failed: its own error
            if len(calls) == 1:
                return [(False, exc)]
            raise


def _alone(call: Callable[[], Any]) -> tuple[bool, Any]:
    try:
        return True, call()
    except Exception as exc:
        return False, exc


class GroupCommit:
    """Queues write transactions from the event loop and runs them in groups on writer threads.

    SQLite has one writer at a time, so it gets one writer thread: a second would only wait
    for the lock. PostgreSQL runs transactions side by side, so it gets ``writers`` threads
    (each with its own connection); the pending transactions are split between the free
    ones, so a quiet moment runs each alone and a busy one shares commits.
    """

    def __init__(self, db: Database, *, writers: int = 1, max_group: int = MAX_GROUP) -> None:
        self.db = db if isinstance(db, GroupedDatabase) else GroupedDatabase(db)
        self.writers = 1 if self.db.dialect == "sqlite" else max(1, writers)
        self.max_group = max_group
        self._executor = ThreadPoolExecutor(self.writers, thread_name_prefix="group-commit")
        self._pending: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self.groups = 0
        self.transactions = 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` (which opens ``self.db.session()``) in the next group; returns once
        the group is committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((lambda: fn(*args), fut))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        result: T = await fut
        return result

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        active: dict[asyncio.Future[Any], list[tuple[Callable[[], Any], asyncio.Future[Any]]]]
        active = {}
        while self._pending or active:
            while self._pending and len(active) < self.writers:
                free = self.writers - len(active)
                size = max(1, min(self.max_group, -(-len(self._pending) // free)))
                batch = self._pending[:size]
                del self._pending[:size]
                group = loop.run_in_executor(
                    self._executor, self.db.run_group, [call for call, _ in batch]
                )
                active[group] = batch
            done, _ = await asyncio.wait(active, return_when=asyncio.FIRST_COMPLETED)
            for group in done:
                self._settle(active.pop(group), group)

    def _settle(
        self,
        batch: list[tuple[Callable[[], Any], asyncio.Future[Any]]],
        group: asyncio.Future[Any],
    ) -> None:
        exc = group.exception()
        if exc is not None:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.groups += 1
        self.transactions += len(batch)
        for (_, fut), (ok, value) in zip(batch, group.result(), strict=True):
            if fut.done():
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
