"""Connecting one account per platform on a running sandbox, as a user would connect real ones.

Each account is provisioned through the sandbox's control API (the token becomes valid
there) or, for Bluesky, by logging in with an app password, then stored like any account:
tokens sealed, platform ids in ``external_id``. Used by the demo and the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.accounts.store import add_account, store_tokens
from postiz_pipelines.core.models import AccountStatus, Platform, SocialAccount, Workspace
from postiz_pipelines.crypto import Keyring, Secret
from postiz_pipelines.providers.base import TokenSet

if TYPE_CHECKING:
    from postiz_pipelines.providers.bluesky_session import BlueskySession

# Chats and channels the messaging platforms post into (any id works on the sandbox).
CHANNELS = {"telegram": "-1001234567890", "discord": "1098765432109876543", "slack": "C0123456789"}
# Bot tokens that look like the platforms' own, so their validation accepts them.
TOKENS = {
    "telegram": "7000000001:AAH-sandbox-telegram-bot-token",
    "discord": "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.sandbox-discord-bot",
    "slack": "xoxb-1000-2000-sandbox-slack-bot",
}


def app_password(handle: str) -> str:
    """A Bluesky-style app password (xxxx-xxxx-xxxx-xxxx), one per account, as Bluesky issues."""
    digest = hashlib.sha256(handle.encode()).hexdigest()[:16]
    return "-".join(digest[i : i + 4] for i in range(0, 16, 4))


# Platforms whose sandbox token endpoints refresh: their accounts get a refresh token too.
REFRESHING = ("youtube", "tiktok", "pinterest", "reddit")


def _refresh_token(sandbox_url: str, platform: str, account_id: str, token: str) -> None:
    r = httpx.post(
        f"{sandbox_url}/_sandbox/{platform}/refresh-tokens",
        json={"token": token, "account_id": account_id},
        timeout=10,
    )
    r.raise_for_status()


def _provision(sandbox_url: str, platform: str, token: str, username: str) -> str:
    r = httpx.post(
        f"{sandbox_url}/_sandbox/{platform}/accounts",
        json={"token": token, "username": username},
        timeout=10,
    )
    r.raise_for_status()
    return str(r.json()["id"])


async def _connect_details(sandbox_url: str, platform: str, token: str, handle: str) -> dict:
    """What connecting reads from the platform and keeps in the account's settings: a TikTok
    creator's posting settings, a Pinterest account's boards (the first is the default)."""
    from postiz_pipelines.crypto import Secret
    from postiz_pipelines.providers.base import AccountCredentials
    from postiz_pipelines.providers.pinterest import PinterestProvider
    from postiz_pipelines.providers.tiktok import TikTokProvider

    creds = AccountCredentials("", platform, handle, "", Secret(token))
    base_url = f"{sandbox_url}/{platform}"
    async with httpx.AsyncClient(timeout=10) as http:
        if platform == "tiktok":
            return {
                "creator_info": await TikTokProvider(http, base_url=base_url).creator_info(creds)
            }
        if platform == "pinterest":
            boards = await PinterestProvider(http, base_url=base_url).list_boards(creds)
            return {"boards": boards, "board_id": boards[0]["id"]}
    return {}


async def _bluesky_login(sandbox_url: str, handle: str) -> BlueskySession:
    from postiz_pipelines.providers.bluesky import BlueskyProvider

    async with httpx.AsyncClient(timeout=10) as http:
        return await BlueskyProvider(http, base_url=f"{sandbox_url}/bluesky").login(
            handle, app_password(handle)
        )


def connect_sandbox_accounts(
    session: Session,
    keyring: Keyring,
    *,
    workspace: Workspace,
    sandbox_url: str,
    now: datetime,
    handle: str = "demo",
    platforms: list[str] | None = None,
) -> list[SocialAccount]:
    """One account per platform on the sandbox at ``sandbox_url``.

    An account already stored is reconnected in place: the sandbox keeps its accounts in
    memory, so after a restart it knows none of them; each is provisioned again and its
    row (same id, posts and history) takes the new tokens and ids and is active again."""
    sandbox_url = sandbox_url.rstrip("/")
    out = []
    for platform in platforms or [p.value for p in Platform]:
        existing = session.scalar(
            select(SocialAccount).where(
                SocialAccount.workspace_id == workspace.id,
                SocialAccount.platform == platform,
                SocialAccount.handle == handle,
                SocialAccount.deleted_at.is_(None),
            )
        )
        kw: dict = {"base_url": f"{sandbox_url}/{platform}"} if platform == "mastodon" else {}
        if platform == "bluesky":
            login = asyncio.run(
                _bluesky_login(sandbox_url, f"{handle}-{workspace.slug}.bsky.social")
            )
            kw.update(
                external_id=login.did,
                access_token=login.tokens.access_token,
                refresh_token=login.tokens.refresh_token,
                token_expires_at=login.tokens.expires_at,
                base_url=login.pds_url,
            )
        else:
            token = TOKENS.get(platform, f"sandbox-{platform}-{workspace.slug}-{handle}")
            remote_id = _provision(sandbox_url, platform, token, handle)
            kw.update(access_token=token, external_id=CHANNELS.get(platform, remote_id))
            if platform == "instagram":
                kw["settings"] = {"login": "instagram"}
            elif platform in ("tiktok", "pinterest"):
                kw["settings"] = asyncio.run(_connect_details(sandbox_url, platform, token, handle))
            elif platform == "reddit":
                kw["settings"] = {"subreddit": "test"}  # the sandbox's open subreddit
            if platform in REFRESHING:
                refresh = f"sandbox-refresh-{platform}-{workspace.slug}-{handle}"
                _refresh_token(sandbox_url, platform, remote_id, refresh)
                kw["refresh_token"] = refresh
        if existing is not None:
            out.append(_reconnect(existing, keyring, kw, now=now))
            continue
        out.append(
            add_account(
                session,
                keyring,
                workspace=workspace,
                platform=platform,
                handle=handle,
                now=now,
                actor="sandbox",
                **kw,
            )
        )
    return out


def _reconnect(
    account: SocialAccount, keyring: Keyring, kw: dict[str, Any], *, now: datetime
) -> SocialAccount:
    """The stored ``account`` with the tokens and ids a fresh provisioning gave."""
    access, refresh = kw["access_token"], kw.get("refresh_token")
    tokens = TokenSet(
        access_token=access if isinstance(access, Secret) else Secret(str(access)),
        refresh_token=None
        if refresh is None
        else (refresh if isinstance(refresh, Secret) else Secret(str(refresh))),
        expires_at=kw.get("token_expires_at"),
    )
    store_tokens(account, tokens, keyring, now=now)
    account.external_id = kw.get("external_id", account.external_id)
    account.base_url = kw.get("base_url", account.base_url)
    if kw.get("settings"):
        account.settings = {**(account.settings or {}), **kw["settings"]}
    account.status = AccountStatus.ACTIVE
    return account
