"""Storing what a connect flow found.

An account that exists (same workspace, platform and external id) is **reconnected in
place**: same id, schedules and history; new tokens (``token_version`` bumped), active
again, and its held jobs released (``core/publishing/hold.py``). An account connected in
another workspace is refused, unless ``POSTIZ_OAUTH_ALLOW_SHARED_ACCOUNTS`` allows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.accounts.instances import store_instance_limits
from postiz_pipelines.core.accounts.store import add_account, store_tokens
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.models import AccountStatus, SocialAccount, Workspace
from postiz_pipelines.core.publishing.hold import release_held_jobs
from postiz_pipelines.crypto import Keyring
from postiz_pipelines.errors import Conflict
from postiz_pipelines.providers.connect.oauth import Connected


@dataclass(frozen=True)
class Stored:
    account: SocialAccount
    reconnected: bool
    released: int  # held jobs due again
    missed: int  # held jobs dead-lettered missed_while_disconnected


def save_connected(
    session: Session,
    keyring: Keyring,
    *,
    workspace: Workspace,
    found: Connected,
    now: datetime,
    actor: str,
    allow_shared: bool,
    grace: timedelta,
    limits: dict[str, Any] | None = None,
) -> Stored:
    """Add or reconnect the account; see the module docstring. The caller commits."""
    same = select(SocialAccount).where(
        SocialAccount.platform == found.platform,
        SocialAccount.external_id == found.external_id,
        SocialAccount.deleted_at.is_(None),
    )
    if found.base_url and found.platform == "mastodon":  # ids are per instance
        same = same.where(SocialAccount.base_url == found.base_url)
    rows = list(session.scalars(same))
    mine = next((r for r in rows if r.workspace_id == workspace.id), None)
    if mine is None and rows and not allow_shared:
        raise Conflict(
            f"{found.platform} account {found.handle!r} is already connected in another "
            "workspace; disconnect it there first (or set "
            "POSTIZ_OAUTH_ALLOW_SHARED_ACCOUNTS=true); nothing was stored"
        )
    if mine is None:
        account = add_account(
            session,
            keyring,
            workspace=workspace,
            platform=found.platform,
            handle=found.handle,
            external_id=found.external_id,
            access_token=found.tokens.access_token,
            refresh_token=found.tokens.refresh_token,
            token_expires_at=found.tokens.expires_at,
            base_url=found.base_url,
            display_name=found.display_name,
            settings=dict(found.settings),
            now=now,
            actor=actor,
        )
        if limits is not None:
            store_instance_limits(account, limits, now=now)
        return Stored(account, False, 0, 0)
    store_tokens(mine, found.tokens, keyring, now=now)  # token_version bumped there
    if found.tokens.refresh_token is None:
        mine.refresh_token_sealed = None  # the old grant is gone with the reconnect
    mine.status = AccountStatus.ACTIVE
    mine.status_reason = None
    mine.status_changed_at = now
    mine.handle = found.handle
    mine.display_name = found.display_name or mine.display_name
    if found.base_url:
        mine.base_url = found.base_url.rstrip("/")
    mine.settings = {**(mine.settings or {}), **found.settings}
    if limits is not None:
        store_instance_limits(mine, limits, now=now)
    report = release_held_jobs(session, account_id=mine.id, now=now, grace=grace)
    audit(
        session,
        actor=actor,
        action="account.reconnect",
        object_type="social_account",
        object_id=mine.id,
        workspace_id=workspace.id,
        now=now,
        platform=found.platform,
        handle=found.handle,
    )
    return Stored(mine, True, report.released, report.dead_lettered)
