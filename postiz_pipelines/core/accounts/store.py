"""Connected social accounts: add, find, unseal credentials, store refreshed tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import AccountStatus, Platform, SocialAccount, Workspace
from postiz_pipelines.core.workspaces.store import language_problem
from postiz_pipelines.crypto import Keyring, Secret
from postiz_pipelines.errors import NotFound, Problem, ValidationFailed
from postiz_pipelines.providers import registry
from postiz_pipelines.providers.base import (
    AccountCredentials,
    MediaLimits,
    PostContent,
    TokenSet,
)


def _ctx(account_id: str, which: str) -> str:
    return f"social_account:{account_id}:{which}"


def add_account(
    session: Session,
    keyring: Keyring,
    *,
    workspace: Workspace,
    platform: str,
    handle: str,
    access_token: str,
    external_id: str | None = None,
    refresh_token: str | None = None,
    token_expires_at: datetime | None = None,
    base_url: str | None = None,
    display_name: str = "",
    settings: dict[str, Any] | None = None,
    language: str | None = None,
    now: datetime,
    actor: str = "system",
) -> SocialAccount:
    """Connect an account; its tokens are sealed before they touch the database.
    ``language`` (BCP-47; else a ``settings["language"]``, which moves to the column) is the
    language of its posts where a platform wants one; without it, the workspace's."""
    settings = dict(settings or {})
    language = language or settings.pop("language", None)
    problems = []
    if language and (lang_issue := language_problem(str(language))) is not None:
        problems.append(lang_issue)
    if platform not in {p.value for p in Platform}:
        allowed = ", ".join(p.value for p in Platform)
        problems.append(
            Problem("platform", f"unknown platform {platform!r}; one of: {allowed}", platform)
        )
    if not handle.strip():
        problems.append(Problem("handle", "must not be empty", handle))
    if not access_token:
        problems.append(Problem("access_token", "must not be empty"))
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        problems.append(Problem("base_url", "must be an http:// or https:// URL", base_url))
    ext = external_id or handle
    if not problems and session.scalar(
        select(SocialAccount.id).where(
            SocialAccount.workspace_id == workspace.id,
            SocialAccount.platform == platform,
            SocialAccount.external_id == ext,
            SocialAccount.deleted_at.is_(None),
        )
    ):
        problems.append(Problem("handle", f"{platform} account {ext!r} is already connected", ext))
    if problems:
        raise ValidationFailed(problems)
    account_id = new_id("acc")
    account = SocialAccount(
        id=account_id,
        workspace_id=workspace.id,
        platform=platform,
        handle=handle,
        external_id=ext,
        display_name=display_name or handle,
        base_url=base_url.rstrip("/") if base_url else None,
        access_token_sealed=keyring.seal(access_token, context=_ctx(account_id, "access")),
        refresh_token_sealed=(
            keyring.seal(refresh_token, context=_ctx(account_id, "refresh"))
            if refresh_token
            else None
        ),
        token_expires_at=token_expires_at,
        status=AccountStatus.ACTIVE,
        language=str(language) if language else None,
        settings=settings,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    session.flush()
    audit(
        session,
        actor=actor,
        action="account.add",
        object_type="social_account",
        object_id=account_id,
        workspace_id=workspace.id,
        now=now,
        platform=platform,
        handle=handle,
    )
    return account


def get_account(
    session: Session, account_id: str, *, workspace_id: str | None = None
) -> SocialAccount:
    q = select(SocialAccount).where(
        SocialAccount.id == account_id, SocialAccount.deleted_at.is_(None)
    )
    if workspace_id is not None:
        q = q.where(SocialAccount.workspace_id == workspace_id)
    account = session.scalar(q)
    if account is None:
        raise NotFound("account", account_id)
    return account


def list_accounts(session: Session, workspace_id: str) -> list[SocialAccount]:
    return list(
        session.scalars(
            select(SocialAccount)
            .where(SocialAccount.workspace_id == workspace_id, SocialAccount.deleted_at.is_(None))
            .order_by(SocialAccount.platform, SocialAccount.handle)
        )
    )


def credentials(account: SocialAccount, keyring: Keyring) -> AccountCredentials:
    """The account's unsealed credentials, for a provider call."""
    return AccountCredentials(
        account_id=account.id,
        platform=account.platform,
        handle=account.handle,
        external_id=account.external_id,
        access_token=keyring.open(account.access_token_sealed, context=_ctx(account.id, "access")),
        refresh_token=(
            keyring.open(account.refresh_token_sealed, context=_ctx(account.id, "refresh"))
            if account.refresh_token_sealed
            else None
        ),
        token_expires_at=account.token_expires_at,
        base_url=account.base_url,
        settings=dict(account.settings or {}),
        language=account_language(account),
    )


def account_language(account: SocialAccount) -> str | None:
    """The language posts to ``account`` carry where a platform wants one: the account's
    ``language`` column, else its workspace's (settings["language"], from before the
    column, is read as the account's)."""
    own = account.language or (account.settings or {}).get("language")
    if own:
        return str(own)
    session = object_session(account)
    workspace = session.get(Workspace, account.workspace_id) if session is not None else None
    return workspace.language if workspace is not None else None


def seal_tokens(account_id: str, tokens: TokenSet, keyring: Keyring) -> dict[str, str]:
    """The sealed columns for ``tokens``: the access token and, when the platform rotated
    it, the refresh token (one that does not rotate keeps the stored one)."""
    out = {
        "access_token_sealed": keyring.seal(tokens.access_token, context=_ctx(account_id, "access"))
    }
    if tokens.refresh_token is not None:
        out["refresh_token_sealed"] = keyring.seal(
            tokens.refresh_token, context=_ctx(account_id, "refresh")
        )
    return out


def store_tokens(
    account: SocialAccount, tokens: TokenSet, keyring: Keyring, *, now: datetime
) -> None:
    """Seal and keep new tokens (a connect or reconnect); bumps ``token_version`` so a
    refresher that read the old ones does not overwrite them."""
    for column, value in seal_tokens(account.id, tokens, keyring).items():
        setattr(account, column, value)
    account.token_expires_at = tokens.expires_at
    account.token_version = (account.token_version or 0) + 1
    account.status = AccountStatus.ACTIVE
    account.updated_at = now


def validation_view(account: SocialAccount) -> AccountCredentials:
    """What validation may know of an account: its settings, never its tokens."""
    return AccountCredentials(
        account_id=account.id,
        platform=account.platform,
        handle=account.handle,
        external_id=account.external_id,
        access_token=Secret(""),
        base_url=account.base_url,
        settings=dict(account.settings or {}),
        language=account_language(account),
    )


def media_limits_for(account: SocialAccount) -> MediaLimits:
    """The limits media for ``account`` is prepared to (its platform's, or its instance's)."""
    return registry.validator(account.platform).media_limits(validation_view(account))


def target_problems(account: SocialAccount, content: PostContent) -> list[Problem]:
    """Every reason ``content`` cannot be published to ``account``, by its platform's rules."""
    try:
        provider = registry.validator(account.platform)
    except ValidationFailed as exc:
        return exc.problems
    return provider.validate(content, validation_view(account))
