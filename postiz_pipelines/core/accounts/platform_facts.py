"""What a platform says about an account that decides whether a post can be made, read at
creation when the account has none saved, or only an old copy: a TikTok creator's posting
settings (``creator_info/query``: privacy levels, which interactions can be turned off, the
longest video) and a subreddit's post requirements and flairs.

``refresh_for_post`` runs before a post is validated, outside its transaction: for each target
whose copy is missing or older than ``STALE_AFTER`` it asks the platform (through the
provider) and keeps the answer in the account's settings (``creator_info`` and
``creator_info_read_at``; ``subreddit_rules[sr]`` and ``subreddit_rules_read_at[sr]``), so
validation then holds the post to it. When the platform cannot be reached (down, a token
that needs refreshing, a limit), the post is not refused for it: a warning says so, and the
provider checks the same rules again before the irreversible call. A subreddit that does
not exist is a refusal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from postiz_pipelines.core.accounts.store import credentials, validation_view
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import AccountStatus, SocialAccount
from postiz_pipelines.errors import ContentRejected, PostizError, Problem, ValidationFailed
from postiz_pipelines.providers.base import PostContent
from postiz_pipelines.providers.reddit import RedditProvider
from postiz_pipelines.providers.reddit_rules import subreddit_of
from postiz_pipelines.providers.tiktok import TikTokProvider

STALE_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Need:
    """One fact to read: a creator's settings (``subreddit`` None) or a subreddit's rules."""

    account_id: str
    platform: str
    subreddit: str | None = None


def _fresh(read_at: object, now: datetime) -> bool:
    try:
        when = datetime.fromisoformat(str(read_at))
    except ValueError:
        return False
    return when.tzinfo is not None and now - when < STALE_AFTER


def needs(
    accounts: Sequence[SocialAccount], settings_of: Mapping[str, Mapping[str, Any]], now: datetime
) -> list[Need]:
    """The facts missing or stale for these targets (``settings_of``: each account's post
    settings, the post's merged with its override)."""
    out = []
    for account in accounts:
        saved = account.settings or {}
        if account.platform == "tiktok":
            if not isinstance(saved.get("creator_info"), dict) or not _fresh(
                saved.get("creator_info_read_at"), now
            ):
                out.append(Need(account.id, "tiktok"))
        elif account.platform == "reddit":
            content = PostContent(text="", settings=dict(settings_of.get(account.id, {})))
            sr = subreddit_of(content, validation_view(account))
            rules = (saved.get("subreddit_rules") or {}).get(sr)
            read_at = (saved.get("subreddit_rules_read_at") or {}).get(sr)
            if sr and (not isinstance(rules, dict) or not _fresh(read_at, now)):
                out.append(Need(account.id, "reddit", sr))
    return out


def store_fact(account: SocialAccount, need: Need, fact: dict[str, Any], *, now: datetime) -> None:
    """Keep what the platform said in the account's settings, with when it was read."""
    settings = dict(account.settings or {})
    if need.subreddit is None:
        settings["creator_info"] = fact
        settings["creator_info_read_at"] = now.isoformat()
    else:
        settings["subreddit_rules"] = {
            **(settings.get("subreddit_rules") or {}),
            need.subreddit: fact,
        }
        settings["subreddit_rules_read_at"] = {
            **(settings.get("subreddit_rules_read_at") or {}),
            need.subreddit: now.isoformat(),
        }
    account.settings = settings  # a new dict, so the JSON column is written
    account.updated_at = now


def refresh_for_post(
    app: AppContext,
    *,
    workspace_id: str,
    account_ids: Sequence[str],
    settings_of: Mapping[str, Mapping[str, Any]],
    now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[str]:
    """Read what is missing or stale for a new post's targets and keep it; returns warnings
    for what could not be read. ValidationFailed for a subreddit that does not exist."""
    with app.db.read() as s:
        accounts = list(
            s.scalars(
                select(SocialAccount).where(
                    SocialAccount.id.in_(list(account_ids)),
                    SocialAccount.workspace_id == workspace_id,
                    SocialAccount.deleted_at.is_(None),
                    SocialAccount.status == AccountStatus.ACTIVE,
                )
            )
        )
        wanted = needs(accounts, settings_of, now)
        creds = {}
        for account in accounts:
            try:
                creds[account.id] = credentials(account, app.keyring)
            except PostizError:
                continue  # unreadable secrets: the publish attempt reports it
    if not wanted:
        return []
    facts, warnings, problems = asyncio.run(_read(app, wanted, creds, transport))
    if problems:
        raise ValidationFailed(problems)
    if facts:
        with app.db.session() as s:
            for need, fact in facts:
                row = s.get(SocialAccount, need.account_id)
                if row is not None:
                    store_fact(row, need, fact, now=now)
    return warnings


async def _read(
    app: AppContext,
    wanted: list[Need],
    creds: Mapping[str, Any],
    transport: httpx.AsyncBaseTransport | None,
) -> tuple[list[tuple[Need, dict[str, Any]]], list[str], list[Problem]]:
    facts: list[tuple[Need, dict[str, Any]]] = []
    warnings: list[str] = []
    problems: list[Problem] = []
    async with httpx.AsyncClient(
        timeout=app.settings.http_timeout_seconds, transport=transport
    ) as http:
        providers = app.provider_set(http)
        for need in wanted:
            account = creds.get(need.account_id)
            what = (
                "TikTok creator settings"
                if need.subreddit is None
                else f"r/{need.subreddit} post requirements"
            )
            if account is None:
                warnings.append(f"{what} could not be read: the account's token is unreadable")
                continue
            try:
                provider = providers.get(need.platform)
                if need.subreddit is None:
                    assert isinstance(provider, TikTokProvider)
                    fact = await provider.creator_info(account)
                else:
                    assert isinstance(provider, RedditProvider)
                    fact = await provider.subreddit_rules(account, need.subreddit)
            except ContentRejected as exc:
                if need.subreddit is not None and exc.code == "SUBREDDIT_NOEXIST":
                    problems.append(Problem("reddit.subreddit", exc.message, f"r/{need.subreddit}"))
                else:
                    warnings.append(unreachable(what, account.handle, exc.message))
                continue
            except PostizError as exc:
                warnings.append(unreachable(what, account.handle, str(exc)))
                continue
            facts.append((need, fact))
    return facts, warnings, problems


def unreachable(what: str, handle: str, reason: str) -> str:
    """The warning of a fact that could not be read at creation."""
    return (
        f"{what} for {handle} could not be read ({reason}); the post was accepted and is "
        "checked against them before it is published"
    )
