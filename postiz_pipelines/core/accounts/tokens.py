"""Refreshing account tokens without ever harming a good account.

``refresh_account`` is the one way a token is refreshed, by the hourly batch
(``token_batch.refresh_expiring_tokens``) and by the engine when a platform says the access
token expired (the reactive path). One refresher per account at a time (``refresh_lock``):
the others wait for it and reuse what it stored, so a rotating refresh token is spent once;
the new access token and the rotated refresh token are written together under a
compare-and-set on ``token_version``. What a failure does depends only on what it is:

- transient (network, 5xx, 429): retried with backoff (tenacity), then left for the next
  try; the account's status never changes;
- the app's OAuth client missing or refused (``OAuthClientMisconfigured``): a configuration
  error, a ``config_error`` event naming the variable (the alerts and the
  ``oauth_clients_configured`` check pick it up); the account is untouched;
- the platform's permanent refusal (``AuthRevoked``: invalid_grant, revoked, suspended): the
  account moves to ``reconnect_needed`` (``status.mark_reconnect_needed``, once) and the
  ``on_reconnect_needed`` hook holds its jobs in the same transaction.

Each refresh call writes ``token_refreshed`` or ``token_refresh_failed`` (account, error
class, code, reason; never a token).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from postiz_pipelines.core.accounts import refresh_lock, status
from postiz_pipelines.core.accounts.store import credentials
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.db import Database
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import AccountStatus, SocialAccount
from postiz_pipelines.crypto import Keyring, Secret
from postiz_pipelines.errors import (
    AuthRevoked,
    OAuthClientMisconfigured,
    PostizError,
    ProviderError,
    RateLimited,
    TransientError,
)
from postiz_pipelines.providers.base import Provider, TokenSet

log = logging.getLogger(__name__)

TRANSIENT = (TransientError, RateLimited)
# (session, account, now) -> jobs held; the publishing layer's hold, passed in from above
ReconnectHook = Callable[[Session, SocialAccount, datetime], int]


@dataclass(frozen=True)
class RetryPolicy:
    """How often a transient refresh failure is tried again at once, and how long between."""

    attempts: int = 3
    wait_min: float = 0.2
    wait_max: float = 2.0


@dataclass(frozen=True)
class RefreshResult:
    account_id: str
    platform: str
    # refreshed | reused (another refresher's) | failed | reconnect_needed | config_error |
    # skipped
    outcome: str
    error_class: str | None = None
    error: str | None = None
    expires_at: datetime | None = None
    tokens: TokenSet | None = field(default=None, repr=False, compare=False)
    variable: str | None = None  # the setting a config_error names

    def as_dict(self) -> dict[str, Any]:
        out = {
            "accountId": self.account_id,
            "platform": self.platform,
            "outcome": self.outcome,
            "errorClass": self.error_class,
            "error": self.error,
            "expiresAt": self.expires_at.isoformat() if self.expires_at else None,
        }
        if self.variable:
            out["variable"] = self.variable
        return out


@dataclass(frozen=True)
class Refresher:
    """What a refresh needs of the app: the database, the keyring, how to retry."""

    db: Database
    keyring: Keyring
    retry: RetryPolicy = RetryPolicy()
    on_reconnect_needed: ReconnectHook | None = None
    wait_timeout: float = refresh_lock.LEASE.total_seconds()


async def refresh_account(
    r: Refresher,
    provider: Provider,
    account_id: str,
    *,
    now: datetime,
    owner: str | None = None,
    used_token: Secret | None = None,
    due_before: datetime | None = None,
    actor: str = "token-refresh",
    job_id: str | None = None,
) -> RefreshResult:
    """Refresh the account's tokens, or reuse another refresher's result.

    ``used_token``: the access token the platform just refused (reactive path); if the stored
    one differs, someone refreshed meanwhile and it is reused. ``due_before``: refresh only if
    the token still expires before then (batch path; another run may have refreshed it).
    """
    owner = owner or new_id("rfr")
    for _ in range(3):  # a holder that gave up without tokens: take the lease ourselves
        seen = await asyncio.to_thread(_read, r, account_id)
        if seen.result is not None:
            return seen.result
        if _fresh(seen, used_token, due_before):
            return _reused(seen)
        taken = await asyncio.to_thread(refresh_lock.take, r.db, account_id, owner=owner, now=now)
        if taken.held:
            if taken.version != seen.version or not status_active(taken.status):
                await asyncio.to_thread(refresh_lock.drop, r.db, account_id, owner=owner)
                continue  # read again: someone wrote between our read and our lease
            return await _refresh_held(
                r, provider, seen, owner=owner, now=now, actor=actor, job_id=job_id
            )
        moved = await refresh_lock.wait(
            r.db, account_id, version=taken.version, timeout=r.wait_timeout
        )
        if moved is None:
            return RefreshResult(
                account_id,
                seen.platform,
                "failed",
                "refresh_in_progress",
                "another refresh of this account is still running",
            )
        if moved != taken.version:
            used_token = used_token or seen.access_token  # the holder's result is newer
            due_before = None
    return RefreshResult(
        account_id, seen.platform, "failed", "refresh_in_progress", "no refresher finished"
    )


def status_active(value: str) -> bool:
    return value == AccountStatus.ACTIVE


@dataclass(frozen=True)
class _Seen:
    account_id: str
    platform: str
    version: int
    tokens: TokenSet | None = None
    access_token: Secret | None = None
    creds: Any = None
    result: RefreshResult | None = None


def _read(r: Refresher, account_id: str) -> _Seen:
    with r.db.read() as s:
        account = s.get(SocialAccount, account_id)
        if account is None or account.deleted_at is not None:
            return _Seen(
                account_id, "", 0, result=RefreshResult(account_id, "", "skipped", "removed")
            )
        platform, version = account.platform, account.token_version or 0
        if status.needs_reconnect(account.status) or account.status != AccountStatus.ACTIVE:
            shown = status.effective_status(account.status)
            return _Seen(
                account_id,
                platform,
                version,
                result=RefreshResult(
                    account_id,
                    platform,
                    "reconnect_needed" if shown == AccountStatus.RECONNECT_NEEDED else "skipped",
                    "auth_revoked" if shown == AccountStatus.RECONNECT_NEEDED else shown,
                    f"account is {shown}",
                ),
            )
        try:
            creds = credentials(account, r.keyring)
        except PostizError as exc:  # unreadable secrets: the operator's keys, not the account
            return _Seen(
                account_id,
                platform,
                version,
                result=RefreshResult(account_id, platform, "failed", "sealing", str(exc)),
            )
        tokens = TokenSet(creds.access_token, creds.refresh_token, creds.token_expires_at)
        return _Seen(account_id, platform, version, tokens, creds.access_token, creds)


def _fresh(seen: _Seen, used_token: Secret | None, due_before: datetime | None) -> bool:
    """Whether what is stored is already newer than what the caller needs refreshed."""
    if seen.tokens is None:
        return False
    if used_token is not None and seen.access_token is not None:
        return seen.access_token.reveal() != used_token.reveal()
    if due_before is not None:
        expires = seen.tokens.expires_at
        return expires is None or expires > due_before
    return False


def _reused(seen: _Seen) -> RefreshResult:
    assert seen.tokens is not None
    return RefreshResult(
        seen.account_id,
        seen.platform,
        "reused",
        expires_at=seen.tokens.expires_at,
        tokens=seen.tokens,
    )


async def _refresh_held(
    r: Refresher,
    provider: Provider,
    seen: _Seen,
    *,
    owner: str,
    now: datetime,
    actor: str,
    job_id: str | None,
) -> RefreshResult:
    """The lease is ours: one call to the platform (transient failures retried), then the
    outcome written."""
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(r.retry.attempts),
            wait=wait_exponential(multiplier=r.retry.wait_min, max=r.retry.wait_max),
            retry=retry_if_exception_type(TRANSIENT),
            reraise=True,
        ):
            with attempt:
                tokens = await provider.refresh(seen.creds)
    except ProviderError as exc:
        return await asyncio.to_thread(
            _record_failure, r, seen, exc, owner=owner, now=now, actor=actor, job_id=job_id
        )
    except Exception as exc:  # a bug or an unmapped error: never a reason to disconnect
        log.exception("token refresh of account %s failed unexpectedly", seen.account_id)
        failure = TransientError(f"unexpected {type(exc).__name__}", platform=seen.platform)
        return await asyncio.to_thread(
            _record_failure, r, seen, failure, owner=owner, now=now, actor=actor, job_id=job_id
        )
    return await asyncio.to_thread(
        _record_success, r, seen, tokens, owner=owner, now=now, actor=actor, job_id=job_id
    )


def _record_success(
    r: Refresher,
    seen: _Seen,
    tokens: TokenSet,
    *,
    owner: str,
    now: datetime,
    actor: str,
    job_id: str | None,
) -> RefreshResult:
    def also(s: Session) -> None:
        record_event(
            s,
            EventType.TOKEN_REFRESHED,
            now=now,
            workspace_id=_workspace(s, seen.account_id),
            platform=seen.platform,
            account_id=seen.account_id,
            job_id=job_id,
            expires_at=tokens.expires_at.isoformat() if tokens.expires_at else None,
            rotated=tokens.refresh_token is not None,
            reason="refreshed",
        )
        audit(
            s,
            actor=actor,
            action="account.token_refresh",
            object_type="social_account",
            object_id=seen.account_id,
            workspace_id=_workspace(s, seen.account_id),
            now=now,
        )

    written = refresh_lock.write_tokens(
        r.db,
        r.keyring,
        seen.account_id,
        tokens,
        owner=owner,
        version=seen.version,
        now=now,
        also=also,
    )
    if not written:  # our lease ran out and someone else wrote: theirs stands
        log.warning("refreshed tokens of account %s lost the race; kept the newer", seen.account_id)
        return RefreshResult(
            seen.account_id, seen.platform, "failed", "lease_lost", "another refresh won"
        )
    return RefreshResult(
        seen.account_id, seen.platform, "refreshed", expires_at=tokens.expires_at, tokens=tokens
    )


def _record_failure(
    r: Refresher,
    seen: _Seen,
    error: ProviderError,
    *,
    owner: str,
    now: datetime,
    actor: str,
    job_id: str | None,
) -> RefreshResult:
    variable = error.variable if isinstance(error, OAuthClientMisconfigured) else None
    with r.db.session() as s:
        account = s.get(SocialAccount, seen.account_id)
        assert account is not None
        revoked = isinstance(error, AuthRevoked)  # the platform's own final answer
        # jobs before the account row, the order every disconnection takes its locks in
        held = r.on_reconnect_needed(s, account, now) if revoked and r.on_reconnect_needed else None
        refresh_lock.release_in(s, seen.account_id, owner=owner)
        outcome = "failed"
        if revoked:
            status.mark_reconnect_needed(
                s,
                account,
                reason=f"token refresh refused: {error.message}",
                now=now,
                actor=actor,
                error_class=error.error_class,
                held_jobs=held,
            )
            outcome = "reconnect_needed"
        elif variable is not None:
            outcome = "config_error"
            record_event(
                s,
                EventType.CONFIG_ERROR,
                now=now,
                workspace_id=account.workspace_id,
                platform=account.platform,
                account_id=account.id,
                variable=variable,
                error=error.message[:500],
            )
        record_event(
            s,
            EventType.TOKEN_REFRESH_FAILED,
            now=now,
            workspace_id=account.workspace_id,
            platform=account.platform,
            account_id=account.id,
            job_id=job_id,
            error_class=error.error_class,
            code=error.code,
            http_status=error.status,
            reason=outcome if outcome != "failed" else "transient",
            error=error.message[:500],
            **({"variable": variable} if variable else {}),
        )
        return RefreshResult(
            account.id,
            account.platform,
            outcome,
            error.error_class,
            error.message[:500],
            variable=variable,
        )


def _workspace(s: Session, account_id: str) -> str | None:
    return s.scalar(select(SocialAccount.workspace_id).where(SocialAccount.id == account_id))
