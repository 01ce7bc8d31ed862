"""Refreshing every account token that expires soon, through the account's own provider.

Each refresh writes ``token_refreshed`` or ``token_refresh_failed`` (with the platform's
error class and code, never the token) in the same transaction as the new sealed tokens.
A refusal that is final (``AuthRevoked``) marks the account revoked; a transient failure
leaves it alone for the next batch, unless the token has already run out, in which case
the account is marked expired so nothing tries to publish with it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from postiz_pipelines.core.accounts.store import credentials, store_tokens
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import AccountStatus, SocialAccount
from postiz_pipelines.errors import AuthRevoked, PostizError, ProviderError
from postiz_pipelines.providers.base import TokenSet
from postiz_pipelines.providers.registry import ProviderSet, provider_class

REFRESH_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class RefreshResult:
    account_id: str
    platform: str
    outcome: str  # refreshed | failed | skipped
    error_class: str | None = None
    error: str | None = None
    expires_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "platform": self.platform,
            "outcome": self.outcome,
            "errorClass": self.error_class,
            "error": self.error,
            "expiresAt": self.expires_at.isoformat() if self.expires_at else None,
        }


@dataclass
class RefreshReport:
    results: list[RefreshResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": len(self.results),
            "refreshed": self.count("refreshed"),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "results": [r.as_dict() for r in self.results],
        }


def expiring_accounts(
    app: AppContext, *, now: datetime, within: timedelta = REFRESH_WINDOW
) -> list[str]:
    """Ids of live accounts whose access token expires before ``now + within``."""
    with app.db.read() as s:
        return list(
            s.scalars(
                select(SocialAccount.id)
                .where(
                    SocialAccount.deleted_at.is_(None),
                    SocialAccount.token_expires_at.is_not(None),
                    SocialAccount.token_expires_at <= now + within,
                    SocialAccount.status.in_([AccountStatus.ACTIVE, AccountStatus.EXPIRED]),
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
) -> RefreshReport:
    """Refresh every token expiring within ``within`` of ``now``; one report line per account."""
    return asyncio.run(
        refresh_expiring_tokens_async(
            app, now=now, transport=transport, within=within, concurrency=concurrency
        )
    )


async def refresh_expiring_tokens_async(
    app: AppContext,
    *,
    now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
    within: timedelta = REFRESH_WINDOW,
    concurrency: int = 5,
) -> RefreshReport:
    ids = await asyncio.to_thread(expiring_accounts, app, now=now, within=within)
    report = RefreshReport()
    if not ids:
        return report
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        timeout=app.settings.http_timeout_seconds, transport=transport
    ) as http:
        providers = app.provider_set(http)

        async def one(account_id: str) -> None:
            async with sem:
                report.results.append(await _refresh_one(app, providers, account_id, now))

        await asyncio.gather(*(one(i) for i in ids))
    report.results.sort(key=lambda r: r.account_id)
    return report


async def _refresh_one(
    app: AppContext, providers: ProviderSet, account_id: str, now: datetime
) -> RefreshResult:
    with app.db.read() as s:
        account = s.get(SocialAccount, account_id)
        assert account is not None
        platform = account.platform
        try:
            creds = credentials(account, app.keyring)
        except PostizError as exc:
            creds, sealing_error = None, str(exc)
    if creds is None:
        return await asyncio.to_thread(
            _record, app, account_id, now, None, AuthRevoked(sealing_error, platform=platform)
        )
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
    try:
        tokens = await providers.get(platform).refresh(creds)
    except ProviderError as exc:
        return await asyncio.to_thread(_record, app, account_id, now, None, exc)
    return await asyncio.to_thread(_record, app, account_id, now, tokens, None)


def _record(
    app: AppContext,
    account_id: str,
    now: datetime,
    tokens: TokenSet | None,
    error: ProviderError | None,
) -> RefreshResult:
    with app.db.session() as s:
        account = s.get(SocialAccount, account_id)
        assert account is not None
        if tokens is not None:
            store_tokens(account, tokens, app.keyring, now=now)
            record_event(
                s,
                EventType.TOKEN_REFRESHED,
                now=now,
                workspace_id=account.workspace_id,
                platform=account.platform,
                account_id=account.id,
                expires_at=tokens.expires_at.isoformat() if tokens.expires_at else None,
            )
            audit(
                s,
                actor="token-refresh",
                action="account.token_refresh",
                object_type="social_account",
                object_id=account.id,
                workspace_id=account.workspace_id,
                now=now,
            )
            return RefreshResult(
                account.id, account.platform, "refreshed", expires_at=tokens.expires_at
            )
        assert error is not None
        if isinstance(error, AuthRevoked):
            account.status = AccountStatus.REVOKED
        elif account.token_expires_at is not None and account.token_expires_at <= now:
            account.status = AccountStatus.EXPIRED
        account.updated_at = now
        record_event(
            s,
            EventType.TOKEN_REFRESH_FAILED,
            now=now,
            workspace_id=account.workspace_id,
            platform=account.platform,
            account_id=account.id,
            error_class=error.error_class,
            code=error.code,
            http_status=error.status,
            error=error.message[:500],
        )
        return RefreshResult(
            account.id, account.platform, "failed", error.error_class, error.message[:500]
        )
