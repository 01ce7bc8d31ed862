"""Token refresh as publishing sees it: the batch, and the refresh of a job's expired token.

Both go through ``accounts.tokens.refresh_account`` (one refresher per account, reuse of
another's result, transient failures retried) with this layer's hold as the hook: when the
platform refuses the grant for good, the account's jobs are held in the same transaction.
For a job, only that permanent refusal ends its attempt as ``AuthRevoked`` (the job is held,
``hold.py``); a transient failure or a missing OAuth client raises ``RefreshDeferred``,
and the job is handed back untried with its attempt given back (``outcomes.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session

from postiz_pipelines.core.accounts import token_batch, tokens
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.db import Database
from postiz_pipelines.core.models import SocialAccount
from postiz_pipelines.core.publishing import hold
from postiz_pipelines.crypto import Keyring, Secret
from postiz_pipelines.errors import AuthRevoked, TransientError
from postiz_pipelines.providers.base import Provider, TokenSet


class RefreshDeferred(TransientError):
    """The job's token could not be refreshed for now (the platform's token endpoint failed,
    or the app's OAuth client is not configured): try the job later, nothing was published."""

    error_class = "token_refresh_deferred"

    def __init__(self, message: str, *, cause: str | None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.cause = cause


def hold_jobs(session: Session, account: SocialAccount, now: datetime) -> int:
    """The reconnect hook: hold the account's waiting jobs."""
    return hold.hold_account_jobs(
        session, account_id=account.id, reason=hold.HELD_RECONNECT, now=now
    )


def refresh_batch(
    app: AppContext,
    *,
    now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: tokens.RetryPolicy | None = None,
) -> token_batch.RefreshReport:
    """The hourly batch: every active token expiring within 24 h, refreshed."""
    return token_batch.refresh_expiring_tokens(
        app, now=now, transport=transport, on_reconnect_needed=hold_jobs, retry=retry
    )


async def refresh_for_job(
    db: Database,
    keyring: Keyring,
    provider: Provider,
    *,
    account_id: str,
    job_id: str,
    used_token: Secret,
    now: datetime,
    owner: str,
    retry: tokens.RetryPolicy | None = None,
) -> TokenSet:
    """New tokens for a job whose access token (``used_token``) the platform just called
    expired (another refresher's, if one ran meanwhile)."""
    refresher = tokens.Refresher(
        db, keyring, retry or tokens.RetryPolicy(), on_reconnect_needed=hold_jobs
    )
    result = await tokens.refresh_account(
        refresher,
        provider,
        account_id,
        now=now,
        owner=f"{owner}:{job_id}",
        used_token=used_token,
        actor=f"engine:{owner}",
        job_id=job_id,
    )
    if result.tokens is not None:
        return result.tokens
    message = f"token expired and could not be refreshed: {result.error or result.outcome}"
    if result.outcome == "reconnect_needed":
        raise AuthRevoked(message, platform=provider.platform)
    raise RefreshDeferred(message, platform=provider.platform, cause=result.error_class)
