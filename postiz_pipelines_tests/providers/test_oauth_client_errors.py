"""A token endpoint that refuses the app's OAuth client (wrong id or secret) is a
configuration error naming the variable, never the account's revocation; a refused grant
still is. The refusal is one odd answer at the edge, so it comes from a MockTransport."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import AuthRevoked, OAuthClientMisconfigured
from postiz_pipelines.providers.base import AccountCredentials
from postiz_pipelines.providers.linkedin import LinkedInProvider
from postiz_pipelines.providers.pinterest import PinterestProvider
from postiz_pipelines.providers.reddit import RedditProvider
from postiz_pipelines.providers.slack import SlackProvider
from postiz_pipelines.providers.tiktok import TikTokProvider
from postiz_pipelines.providers.x import XProvider
from postiz_pipelines.providers.youtube import YouTubeProvider

BASE = "https://token.example"
SECRET = Secret("client-secret")
PROVIDERS: dict[str, Any] = {
    "x": lambda http, clock: XProvider(http, base_url=BASE, client_id="cid", clock=clock),
    "linkedin": lambda http, clock: LinkedInProvider(
        http, base_url=BASE, oauth_base_url=BASE, client_id="cid", client_secret=SECRET, clock=clock
    ),
    "tiktok": lambda http, clock: TikTokProvider(
        http, base_url=BASE, client_key="ckey", client_secret=SECRET, clock=clock
    ),
    "youtube": lambda http, clock: YouTubeProvider(
        http, base_url=BASE, oauth_base_url=BASE, client_id="cid", client_secret=SECRET, clock=clock
    ),
    "pinterest": lambda http, clock: PinterestProvider(
        http, base_url=BASE, client_id="cid", client_secret=SECRET, clock=clock
    ),
    "reddit": lambda http, clock: RedditProvider(
        http, base_url=BASE, oauth_base_url=BASE, client_id="cid", client_secret=SECRET, clock=clock
    ),
    "slack": lambda http, clock: SlackProvider(
        http, base_url=BASE, client_id="cid", client_secret=SECRET, clock=clock
    ),
}
ERROR = {"slack": "invalid_client_id"}


def refresh(platform: str, answer: dict[str, Any], status: int) -> None:
    clock = FixedClock(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=answer)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            account = AccountCredentials(
                account_id="acc_1",
                platform=platform,
                handle="zoë",
                external_id="1",
                access_token=Secret("old-access"),
                refresh_token=Secret("old-refresh"),
                base_url=BASE,
            )
            await PROVIDERS[platform](http, clock).refresh(account)

    asyncio.run(go())


@pytest.mark.parametrize("platform", sorted(PROVIDERS))
def test_a_refused_client_names_the_variable(platform: str) -> None:
    error = ERROR.get(platform, "invalid_client")
    body = {"error": error, "error_description": "Client authentication failed", "ok": False}
    with pytest.raises(OAuthClientMisconfigured) as caught:
        refresh(platform, body, 200 if platform == "slack" else 401)
    assert caught.value.variable.startswith(f"POSTIZ_{platform.upper()}_CLIENT_")
    assert "client-secret" not in str(caught.value) and "old-refresh" not in repr(caught.value)


@pytest.mark.parametrize("platform", ["linkedin", "tiktok", "youtube", "pinterest", "reddit"])
def test_a_refused_grant_is_still_a_revocation(platform: str) -> None:
    with pytest.raises(AuthRevoked):
        refresh(platform, {"error": "invalid_grant", "error_description": "revoked"}, 400)
