"""The limits of each connected Mastodon account's own instance, kept in the account's
``settings["instance"]`` so that validation holds a post to that server's rules (a
5,000-character instance takes 5,000, not Mastodon's default 500).

They are read when the account connects (``store_instance_limits`` with what the provider's
``read_limits`` returned) and refreshed daily (``refresh_instance_limits``, run by a
schedule). A refresh that fails keeps the limits last read: an instance that is down for a
moment has not changed its rules.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select

from postiz_pipelines.core.accounts.store import credentials
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import AccountStatus, SocialAccount
from postiz_pipelines.errors import PostizError, ProviderError
from postiz_pipelines.providers.mastodon import MastodonProvider

PLATFORM = "mastodon"


@dataclass
class InstanceReport:
    """What one refresh did: accounts whose limits were read, and those that failed."""

    updated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # account id -> reason

    def as_dict(self) -> dict[str, Any]:
        return {"updated": len(self.updated), "failed": len(self.failed)}


def store_instance_limits(account: SocialAccount, limits: dict[str, Any], *, now: datetime) -> None:
    """Keep ``limits`` (``MastodonProvider.read_limits``) in the account's settings, with the
    instant they were read; the caller commits."""
    settings = dict(account.settings or {})
    settings["instance"] = dict(limits)
    settings["instance_read_at"] = now.isoformat()
    account.settings = settings  # a new dict, so the JSON column is written
    account.updated_at = now


def refresh_instance_limits(
    app: AppContext, *, now: datetime, transport: httpx.AsyncBaseTransport | None = None
) -> InstanceReport:
    """Read the instance limits of every live Mastodon account again and store them."""
    return asyncio.run(refresh_instance_limits_async(app, now=now, transport=transport))


async def refresh_instance_limits_async(
    app: AppContext, *, now: datetime, transport: httpx.AsyncBaseTransport | None = None
) -> InstanceReport:
    """``refresh_instance_limits`` inside a running event loop."""
    with app.db.read() as s:
        accounts = list(
            s.scalars(
                select(SocialAccount).where(
                    SocialAccount.platform == PLATFORM,
                    SocialAccount.deleted_at.is_(None),
                    SocialAccount.status == AccountStatus.ACTIVE,
                )
            )
        )
        creds = {}
        for account in accounts:
            try:
                creds[account.id] = credentials(account, app.keyring)
            except PostizError:
                continue  # a token that cannot be opened is the token refresh's concern
    report = InstanceReport()
    read: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(
        timeout=app.settings.http_timeout_seconds, transport=transport
    ) as http:
        provider = app.provider_set(http).get(PLATFORM)
        assert isinstance(provider, MastodonProvider)
        for account_id, creds_of in creds.items():
            try:
                read[account_id] = await provider.read_limits(creds_of)
            except ProviderError as exc:
                report.failed[account_id] = exc.message
    with app.db.session() as s:
        for account_id, limits in read.items():
            row = s.get(SocialAccount, account_id)
            if row is not None:
                store_instance_limits(row, limits, now=now)
                report.updated.append(account_id)
    return report
