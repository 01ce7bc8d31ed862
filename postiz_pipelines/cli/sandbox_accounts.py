"""Connecting one account per platform on a running sandbox, through the real connect flows.

Each account is connected as a user would connect a real one: the platform's consent page
(the sandbox's consents at once as the user ``handle``), the code exchange and the reads
of ``providers/connect``; Bluesky with an app password, Telegram with a bot token. What is
found is stored by ``core/accounts/connect/store.py``. Used by the demo and the end-to-end
tests.

The demo's accounts are kept by handle: the sandbox keeps its accounts in memory, so after
a restart it knows none of them and numbers them anew. A stored account of the same handle
takes the new platform id and is reconnected in place (same id, posts and history, new
tokens, active again, its held jobs released).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.accounts.connect.clients import SANDBOX_DISCORD_BOT
from postiz_pipelines.core.accounts.connect.store import save_connected
from postiz_pipelines.core.models import Platform, SocialAccount, Workspace
from postiz_pipelines.crypto import Keyring, Secret
from postiz_pipelines.providers.connect.chat import TelegramConnector
from postiz_pipelines.providers.connect.fediverse import BlueskyConnector, MastodonConnector
from postiz_pipelines.providers.connect.oauth import (
    Connected,
    ConnectHttp,
    OAuthClient,
    authorization_url,
    exchange_code,
    new_verifier,
)
from postiz_pipelines.providers.connect.registry import connector

# Chats the messaging platforms post into (any id works on the sandbox).
CHANNELS = {"telegram": "-1001234567890"}
TELEGRAM_BOT = "7000000001:AAH-sandbox-telegram-bot-token"
REDIRECT_URI = "http://127.0.0.1:53682/callback"  # the consent page only names it back
# what the demo chooses while connecting
CHOICES: dict[str, dict[str, str]] = {"reddit": {"subreddit": "test"}}  # the open subreddit


def app_password(handle: str) -> str:
    """A Bluesky-style app password (xxxx-xxxx-xxxx-xxxx), one per account, as Bluesky issues."""
    digest = hashlib.sha256(handle.encode()).hexdigest()[:16]
    return "-".join(digest[i : i + 4] for i in range(0, 16, 4))


async def _consent(
    net: ConnectHttp, sandbox_url: str, platform: str, user: str, now: datetime
) -> tuple[Connected, dict[str, Any] | None]:
    """One consent on the sandbox: authorize, consent as ``user``, exchange, read."""
    client = OAuthClient(f"sandbox-{platform}", Secret(f"sandbox-{platform}-secret"))
    choices: dict[str, Any] = dict(CHOICES.get(platform, {}))
    limits = None
    if platform == "mastodon":
        mastodon = connector(platform, sandbox_url=sandbox_url)
        assert isinstance(mastodon, MastodonConnector)
        choices["instance"] = f"{sandbox_url}/mastodon"
        limits = await mastodon.read_instance(net, choices["instance"])
        client = await mastodon.register_app(net, choices["instance"], REDIRECT_URI)
    options = {"client": client, "now": now, "bot_token": Secret(SANDBOX_DISCORD_BOT)}
    conn = connector(platform, sandbox_url=sandbox_url, options=options)
    flow = conn.flow(choices)
    verifier = new_verifier() if flow.pkce else None
    url = authorization_url(
        flow, client, redirect_uri=REDIRECT_URI, state="demo", code_verifier=verifier
    )
    async with net.client() as http:
        page = await http.get(f"{url}&sandbox_user={user}")
    if page.status_code != 302:
        raise RuntimeError(f"{platform}: the sandbox's consent page answered {page.status_code}")
    code = parse_qs(urlsplit(page.headers["location"]).query)["code"][0]
    tokens, answer = await exchange_code(
        flow, client, net, code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier, now=now
    )
    found = await conn.identify(net, tokens, answer, choices)
    return found[0], limits  # of several Pages or channels, the first


async def _connect(
    sandbox_url: str, platform: str, handle: str, slug: str, now: datetime
) -> tuple[Connected, dict[str, Any] | None]:
    net = ConnectHttp(None, 10)
    if platform == "bluesky":
        user = f"{handle}-{slug}.bsky.social"
        async with httpx.AsyncClient(timeout=10) as http:  # the account exists on the network
            r = await http.post(
                f"{sandbox_url}/_sandbox/bluesky/accounts",
                json={"token": app_password(user), "username": user},
            )
            r.raise_for_status()
        bluesky = connector(platform, sandbox_url=sandbox_url)
        assert isinstance(bluesky, BlueskyConnector)
        return await bluesky.login(net, user, Secret(app_password(user))), None
    if platform == "telegram":
        telegram = connector(platform, sandbox_url=sandbox_url)
        assert isinstance(telegram, TelegramConnector)
        return await telegram.verify(net, Secret(TELEGRAM_BOT), CHANNELS["telegram"]), None
    return await _consent(net, sandbox_url, platform, handle, now)


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
    """One account per platform on the sandbox at ``sandbox_url``, stored under ``handle``
    (see the module docstring)."""
    sandbox_url = sandbox_url.rstrip("/")
    out = []
    for platform in platforms or [p.value for p in Platform]:
        found, limits = asyncio.run(_connect(sandbox_url, platform, handle, workspace.slug, now))
        found = replace(found, handle=handle)
        existing = session.scalar(
            select(SocialAccount).where(
                SocialAccount.workspace_id == workspace.id,
                SocialAccount.platform == platform,
                SocialAccount.handle == handle,
                SocialAccount.deleted_at.is_(None),
            )
        )
        if existing is not None:  # the sandbox renumbered it: the same account, a new id
            existing.external_id = found.external_id
            if found.base_url:
                existing.base_url = found.base_url
            session.flush()
        stored = save_connected(
            session,
            keyring,
            workspace=workspace,
            found=found,
            now=now,
            actor="sandbox",
            allow_shared=True,
            grace=timedelta(hours=24),
            limits=limits,
        )
        out.append(stored.account)
    return out
