"""Connectors of Meta's platforms.

- **Facebook Pages**: Facebook Login grants a short-lived user token, exchanged for a
  long-lived one (``fb_exchange_token``); ``/me/accounts`` lists the user's Pages, each
  with its own Page token (which does not expire while the user token is long-lived). The
  user picks which Pages to connect.
- **Instagram professional accounts**, through their Page: the same login; every Page
  linked to an Instagram account offers that account, posting with the Page token
  (``settings["login"] = "facebook"``).
- **Threads**: its own consent; the short-lived token is exchanged for a 60-day one
  (``th_exchange_token``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from postiz_pipelines.crypto import Secret
from postiz_pipelines.providers.base import TokenSet
from postiz_pipelines.providers.connect.base import Connector
from postiz_pipelines.providers.connect.oauth import (
    CodeFlow,
    Connected,
    ConnectHttp,
    OAuthClient,
    get_json,
)

FACEBOOK_ROOTS = (
    "https://www.facebook.com",
    "https://graph.facebook.com",
    "https://graph.facebook.com",
)


class _FacebookLogin(Connector):
    roots = FACEBOOK_ROOTS
    picks: ClassVar[str | None] = "pages"
    scopes: ClassVar[tuple[str, ...]] = ()

    @property
    def version(self) -> str:
        return str(self.options.get("api_version") or "v24.0")

    def flow(self, choices: Mapping[str, Any] | None = None) -> CodeFlow:
        return CodeFlow(
            self.platform,
            f"{self.web}/{self.version}/dialog/oauth",
            f"{self.token_root}/{self.version}/oauth/access_token",
            self.scopes,
            scope_separator=",",
            pkce=False,
            token_method="GET",  # noqa: S106 - an HTTP method
        )

    async def pages(self, net: ConnectHttp, tokens: TokenSet) -> list[dict[str, Any]]:
        """The user's Pages, after trading the user token for a long-lived one."""
        client: OAuthClient = self.options["client"]
        secret = client.client_secret.reveal() if client.client_secret else ""
        async with net.client() as http:
            long = await get_json(
                http,
                self.platform,
                f"{self.api}/{self.version}/oauth/access_token",
                what="a long-lived user token",
                params={
                    "grant_type": "fb_exchange_token",
                    "client_id": client.client_id,
                    "client_secret": secret,
                    "fb_exchange_token": tokens.access_token.reveal(),
                },
            )
            me = await get_json(
                http,
                self.platform,
                f"{self.api}/{self.version}/me",
                what="the user",
                params={"fields": "id", "access_token": str(long["access_token"])},
            )
            body = await get_json(
                http,
                self.platform,
                f"{self.api}/{self.version}/me/accounts",
                what="the Pages",
                params={
                    "fields": "id,name,access_token,instagram_business_account{id,username}",
                    "access_token": str(long["access_token"]),
                },
            )
        # the app-scoped user id is what Meta's deauthorize callback names: kept on each
        # account connected through this login, so removing the app disconnects them all
        user_id = str(me.get("id") or "")
        return [
            {**p, "_user_id": user_id}
            for p in body.get("data") or []
            if isinstance(p, dict) and p.get("access_token")
        ]


class FacebookConnector(_FacebookLogin):
    platform: ClassVar[str] = "facebook"
    scopes = (
        "pages_show_list",
        "pages_manage_posts",
        "pages_read_engagement",
        "business_management",
    )

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        return [
            Connected(
                "facebook",
                str(p["id"]),
                str(p.get("name") or p["id"]),
                str(p.get("name") or p["id"]),
                TokenSet(Secret(str(p["access_token"]))),
                settings={"user_id": p["_user_id"]} if p["_user_id"] else {},
            )
            for p in await self.pages(net, tokens)
        ]


class InstagramConnector(_FacebookLogin):
    platform: ClassVar[str] = "instagram"
    picks: ClassVar[str | None] = "accounts"
    scopes = (
        "instagram_basic",
        "instagram_content_publish",
        "pages_show_list",
        "pages_read_engagement",
        "business_management",
    )

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        out = []
        for p in await self.pages(net, tokens):
            ig = p.get("instagram_business_account")
            if not isinstance(ig, dict) or not ig.get("id"):
                continue
            name = str(ig.get("username") or ig["id"])
            out.append(
                Connected(
                    "instagram",
                    str(ig["id"]),
                    name,
                    name,
                    TokenSet(Secret(str(p["access_token"]))),
                    settings={
                        "login": "facebook",
                        "page_id": str(p["id"]),
                        **({"user_id": p["_user_id"]} if p["_user_id"] else {}),
                    },
                )
            )
        return out


class ThreadsConnector(Connector):
    platform: ClassVar[str] = "threads"
    roots = ("https://threads.net", "https://graph.threads.net", "https://graph.threads.net")

    def flow(self, choices: Mapping[str, Any] | None = None) -> CodeFlow:
        return CodeFlow(
            "threads",
            f"{self.web}/oauth/authorize",
            f"{self.token_root}/oauth/access_token",
            ("threads_basic", "threads_content_publish"),
            scope_separator=",",
            pkce=False,
        )

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        client: OAuthClient = self.options["client"]
        async with net.client() as http:
            long = await get_json(
                http,
                "threads",
                f"{self.api}/access_token",
                what="a long-lived token",
                params={
                    "grant_type": "th_exchange_token",
                    "client_secret": client.client_secret.reveal() if client.client_secret else "",
                    "access_token": tokens.access_token.reveal(),
                },
            )
            token = Secret(str(long["access_token"]))
            me = await get_json(
                http,
                "threads",
                f"{self.api}/v1.0/me",
                what="the profile",
                params={"fields": "id,username,name"},
                headers={"Authorization": f"Bearer {token.reveal()}"},
            )
        seconds = int(long.get("expires_in") or 0)
        expires = tokens.expires_at or None
        if seconds and self.options.get("now") is not None:
            expires = self.options["now"] + timedelta(seconds=seconds)
        name = str(me.get("username") or me["id"])
        return [
            Connected(
                "threads",
                str(me["id"]),
                name,
                str(me.get("name") or name),
                TokenSet(token, None, expires),
            )
        ]
