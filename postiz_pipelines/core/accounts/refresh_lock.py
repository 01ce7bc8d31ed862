"""One refresher per account at a time: a lease on the account row, taken in one short
transaction and written with the new tokens under a compare-and-set.

``take`` reads the account's ``token_version`` and lease and, when no one else holds an
unexpired lease, writes itself as ``refresh_lease_owner`` until ``refresh_lease_expires_at``.
On PostgreSQL the row is read ``SELECT ... FOR UPDATE`` so two takers queue on the row lock
and the second sees the first's lease; on SQLite (every write transaction is ``BEGIN
IMMEDIATE``) the take is a conditional ``UPDATE`` of the lease columns. The holder calls the
platform outside any transaction, then ``write_tokens`` stores the access token and the
rotated refresh token in one transaction, fenced on the lease owner *and* the version it
read (``token_version`` bumped), and drops the lease. Anyone else waits for the lease to go
(``wait``) and reuses what the holder stored: a rotating refresh token is never spent twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from postiz_pipelines.core.db import Database, is_postgres
from postiz_pipelines.core.models import SocialAccount
from postiz_pipelines.crypto import Keyring
from postiz_pipelines.providers.base import TokenSet

LEASE = timedelta(minutes=2)  # longer than a refresh with its retries may take


@dataclass(frozen=True)
class Taken:
    """The outcome of ``take``: ``held`` if this caller now refreshes, with the version read."""

    held: bool
    version: int
    status: str
    expires_at: datetime | None


def take(
    db: Database, account_id: str, *, owner: str, now: datetime, lease: timedelta = LEASE
) -> Taken:
    """Take the account's refresh lease for ``owner`` unless someone else holds it."""
    with db.session() as s:
        if is_postgres(s):
            account = s.scalar(
                select(SocialAccount).where(SocialAccount.id == account_id).with_for_update()
            )
            assert account is not None
            busy = (
                account.refresh_lease_owner not in (None, owner)
                and account.refresh_lease_expires_at is not None
                and account.refresh_lease_expires_at > now
            )
            if not busy:
                account.refresh_lease_owner = owner
                account.refresh_lease_expires_at = now + lease
            return Taken(
                not busy, account.token_version or 0, account.status, account.token_expires_at
            )
        result = s.execute(
            update(SocialAccount)
            .where(
                SocialAccount.id == account_id,
                or_(
                    SocialAccount.refresh_lease_owner.is_(None),
                    SocialAccount.refresh_lease_owner == owner,
                    SocialAccount.refresh_lease_expires_at <= now,
                ),
            )
            .values(refresh_lease_owner=owner, refresh_lease_expires_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        held = (cast(CursorResult[Any], result).rowcount or 0) > 0
        row = s.execute(
            select(
                SocialAccount.token_version, SocialAccount.status, SocialAccount.token_expires_at
            ).where(SocialAccount.id == account_id)
        ).one()
        return Taken(held, row[0] or 0, row[1], row[2])


def drop(db: Database, account_id: str, *, owner: str) -> None:
    """Give the lease back without writing tokens."""
    with db.session() as s:
        release_in(s, account_id, owner=owner)


def release_in(session: Session, account_id: str, *, owner: str) -> None:
    """Give the lease back inside ``session`` (with what the failed refresh records)."""
    session.execute(
        update(SocialAccount)
        .where(SocialAccount.id == account_id, SocialAccount.refresh_lease_owner == owner)
        .values(refresh_lease_owner=None, refresh_lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


def write_tokens(
    db: Database,
    keyring: Keyring,
    account_id: str,
    tokens: TokenSet,
    *,
    owner: str,
    version: int,
    now: datetime,
    also: Callable[[Session], None] | None = None,
) -> bool:
    """Store refreshed tokens, the rotated refresh token with the access token, in one
    transaction fenced on the lease and on ``version`` (with what ``also`` adds: the event);
    False when either moved meanwhile."""
    from postiz_pipelines.core.accounts.store import seal_tokens

    with db.session() as s:
        sealed = seal_tokens(account_id, tokens, keyring)
        result = s.execute(
            update(SocialAccount)
            .where(
                SocialAccount.id == account_id,
                SocialAccount.token_version == version,
                or_(
                    SocialAccount.refresh_lease_owner == owner,
                    SocialAccount.refresh_lease_owner.is_(None),
                ),
            )
            .values(
                **sealed,
                token_expires_at=tokens.expires_at,
                token_version=version + 1,
                last_refreshed_at=now,
                refresh_lease_owner=None,
                refresh_lease_expires_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        written = (cast(CursorResult[Any], result).rowcount or 0) > 0
        if written and also is not None:
            also(s)
        return written


async def wait(
    db: Database,
    account_id: str,
    *,
    version: int,
    timeout: float,
    poll: float = 0.05,
) -> int | None:
    """Wait until the lease is gone or the token version moved past ``version``; returns the
    version then (None after ``timeout`` seconds of real time)."""
    deadline = time.monotonic() + timeout
    delay = poll
    while True:
        current = await asyncio.to_thread(_lease_state, db, account_id)
        current_version, owner = current
        if current_version != version or owner is None:
            return current_version
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def _lease_state(db: Database, account_id: str) -> tuple[int, str | None]:
    with db.read() as s:
        row = s.execute(
            select(SocialAccount.token_version, SocialAccount.refresh_lease_owner).where(
                SocialAccount.id == account_id
            )
        ).one()
        return row[0] or 0, row[1]
