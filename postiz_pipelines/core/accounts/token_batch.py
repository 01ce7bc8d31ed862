"""The token refresh batch: every active account whose token expires within 24 h, refreshed
through its provider by ``tokens.refresh_account`` (a few at once), one report line each."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from postiz_pipelines.core.accounts.tokens import (
    ReconnectHook,
    Refresher,
    RefreshResult,
    RetryPolicy,
    refresh_account,
)
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import AccountStatus, SocialAccount
from postiz_pipelines.errors import PostizError
from postiz_pipelines.providers.registry import ProviderSet, provider_class

REFRESH_WINDOW = timedelta(hours=24)


@dataclass
class RefreshReport:
    results: list[RefreshResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": len(self.results),
            "refreshed": self.count("refreshed") + self.count("reused"),
            "failed": self.count("failed")
            + self.count("reconnect_needed")
            + self.count("config_error"),
            "reconnectNeeded": self.count("reconnect_needed"),
            "configErrors": self.count("config_error"),
            "skipped": self.count("skipped"),
            "results": [r.as_dict() for r in self.results],
        }


def expiring_accounts(
    app: AppContext, *, now: datetime, within: timedelta = REFRESH_WINDOW
) -> list[str]:
    """Ids of live, active accounts whose access token expires before ``now + within``."""
    with app.db.read() as s:
        return list(
            s.scalars(
                select(SocialAccount.id)
                .where(
                    SocialAccount.deleted_at.is_(None),
                    SocialAccount.token_expires_at.is_not(None),
                    SocialAccount.token_expires_at <= now + within,
                    SocialAccount.status == AccountStatus.ACTIVE,
                )
                .order_by(SocialAccount.token_expires_at)
            )
        )


def refresh_expiring_tokens(
    app: AppContext,
    *,
    now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
    within: timedelta = REFRESH_WINDOW,
    concurrency: int = 5,
    on_reconnect_needed: ReconnectHook | None = None,
    retry: RetryPolicy | None = None,
) -> RefreshReport:
    """Refresh every token expiring within ``within`` of ``now``; one report line per account."""
    return asyncio.run(
        refresh_expiring_tokens_async(
            app,
            now=now,
            transport=transport,
            within=within,
            concurrency=concurrency,
            on_reconnect_needed=on_reconnect_needed,
            retry=retry,
        )
    )


async def refresh_expiring_tokens_async(
    app: AppContext,
    *,
    now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
    within: timedelta = REFRESH_WINDOW,
    concurrency: int = 5,
    on_reconnect_needed: ReconnectHook | None = None,
    retry: RetryPolicy | None = None,
) -> RefreshReport:
    ids = await asyncio.to_thread(expiring_accounts, app, now=now, within=within)
    report = RefreshReport()
    if not ids:
        return report
    refresher = Refresher(
        app.db, app.keyring, retry or RetryPolicy(), on_reconnect_needed=on_reconnect_needed
    )
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        timeout=app.settings.http_timeout_seconds, transport=transport
    ) as http:
        providers = app.provider_set(http)

        async def one(account_id: str) -> None:
            async with sem:
                report.results.append(
                    await _refresh_batch_one(refresher, providers, account_id, now, within)
                )

        await asyncio.gather(*(one(i) for i in ids))
    report.results.sort(key=lambda r: r.account_id)
    return report


async def _refresh_batch_one(
    r: Refresher, providers: ProviderSet, account_id: str, now: datetime, within: timedelta
) -> RefreshResult:
    with r.db.read() as s:
        platform = s.scalar(select(SocialAccount.platform).where(SocialAccount.id == account_id))
    platform = platform or ""
    try:
        cls = provider_class(platform)
    except PostizError:
        return RefreshResult(
            account_id, platform, "skipped", "no_provider", f"no provider for {platform}"
        )
    if not cls.capabilities.supports_refresh:
        return RefreshResult(
            account_id,
            platform,
            "skipped",
            "not_refreshable",
            f"{platform} tokens cannot be refreshed; reconnect the account before it expires",
        )
    return await refresh_account(
        r, providers.get(platform), account_id, now=now, due_before=now + within
    )
