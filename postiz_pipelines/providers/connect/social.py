"""Connectors of the platforms whose consent grants one account: X (PKCE required),
LinkedIn, YouTube (Google, offline access), TikTok (creator info kept), Pinterest (boards
kept) and Reddit (permanent grant; the chosen subreddit's post requirements kept)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from postiz_pipelines.errors import ConnectRefused
from postiz_pipelines.providers.base import AccountCredentials, TokenSet
from postiz_pipelines.providers.connect.base import Connector
from postiz_pipelines.providers.connect.oauth import CodeFlow, Connected, ConnectHttp, get_json


def _bearer(tokens: TokenSet) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.access_token.reveal()}"}


def _creds(platform: str, tokens: TokenSet, handle: str = "") -> AccountCredentials:
    return AccountCredentials("", platform, handle, "", tokens.access_token, tokens.refresh_token)


class XConnector(Connector):
    platform: ClassVar[str] = "x"
    roots = ("https://x.com", "https://api.x.com", "https://api.x.com")

    def flow(self, choices: Mapping[str, Any] | None = None) -> CodeFlow:
        return CodeFlow(
            "x",
            f"{self.web}/i/oauth2/authorize",
            f"{self.token_root}/2/oauth2/token",
            ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access"),
            token_auth="client_secret_basic",  # noqa: S106 - a method name
        )

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        async with net.client() as http:
            me = await get_json(
                http, "x", f"{self.api}/2/users/me", what="/2/users/me", headers=_bearer(tokens)
            )
        data = me.get("data") or {}
        return [
            Connected(
                "x",
                str(data["id"]),
                str(data["username"]),
                str(data.get("name") or data["username"]),
                tokens,
            )
        ]


class LinkedInConnector(Connector):
    platform: ClassVar[str] = "linkedin"
    roots = ("https://www.linkedin.com", "https://www.linkedin.com", "https://api.linkedin.com")

    def flow(self, choices: Mapping[str, Any] | None = None) -> CodeFlow:
        return CodeFlow(
            "linkedin",
            f"{self.web}/oauth/v2/authorization",
            f"{self.token_root}/oauth/v2/accessToken",
            ("openid", "profile", "w_member_social"),
            pkce=False,
        )

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        async with net.client() as http:
            me = await get_json(
                http,
                "linkedin",
                f"{self.api}/v2/userinfo",
                what="/v2/userinfo",
                headers=_bearer(tokens),
            )
        name = str(me.get("name") or me.get("given_name") or me["sub"])
        return [
            Connected(
                "linkedin", str(me["sub"]), name, name, tokens, settings={"author_type": "person"}
            )
        ]


class YouTubeConnector(Connector):
    platform: ClassVar[str] = "youtube"
    roots = (
        "https://accounts.google.com",
        "https://oauth2.googleapis.com",
        "https://www.googleapis.com",
    )

    def flow(self, choices: Mapping[str, Any] | None = None) -> CodeFlow:
        return CodeFlow(
            "youtube",
            f"{self.web}/o/oauth2/v2/auth",
            f"{self.token_root}/token",
            (
                "https://www.googleapis.com/auth/youtube.upload",
                "https://www.googleapis.com/auth/youtube.readonly",
            ),
            # offline access: a refresh token; consent again so Google sends a new one
            authorize_params={
                "access_type": "offline",
                "prompt": "consent",
                "include_granted_scopes": "true",
            },
        )

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        async with net.client() as http:
            body = await get_json(
                http,
                "youtube",
                f"{self.api}/youtube/v3/channels",
                what="the channel",
                headers=_bearer(tokens),
                params={"part": "snippet", "mine": "true"},
            )
        items = body.get("items") or []
        if not items:
            raise ConnectRefused(
                "youtube: the Google account has no YouTube channel",
                field="code",
                platform="youtube",
            )
        channel = items[0]
        title = str((channel.get("snippet") or {}).get("title") or channel["id"])
        return [Connected("youtube", str(channel["id"]), title, title, tokens)]


class TikTokConnector(Connector):
    platform: ClassVar[str] = "tiktok"
    roots = ("https://www.tiktok.com", "https://open.tiktokapis.com", "https://open.tiktokapis.com")

    def flow(self, choices: Mapping[str, Any] | None = None) -> CodeFlow:
        return CodeFlow(
            "tiktok",
            f"{self.web}/v2/auth/authorize/",
            f"{self.token_root}/v2/oauth/token/",
            ("user.info.basic", "video.publish", "video.upload"),
            scope_separator=",",
            pkce=False,
            client_param="client_key",
        )

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        from postiz_pipelines.providers.tiktok import TikTokProvider

        async with net.client() as http:
            info = await TikTokProvider(http, base_url=self.api).creator_info(
                _creds("tiktok", tokens)
            )
        name = str(info.get("creator_username") or answer.get("open_id"))
        return [
            Connected(
                "tiktok",
                str(answer.get("open_id") or name),
                name,
                str(info.get("creator_nickname") or name),
                tokens,
                settings={"creator_info": info},
            )
        ]


class PinterestConnector(Connector):
    platform: ClassVar[str] = "pinterest"
    roots = ("https://www.pinterest.com", "https://api.pinterest.com", "https://api.pinterest.com")

    def flow(self, choices: Mapping[str, Any] | None = None) -> CodeFlow:
        return CodeFlow(
            "pinterest",
            f"{self.web}/oauth/",
            f"{self.token_root}/v5/oauth/token",
            ("boards:read", "pins:read", "pins:write", "user_accounts:read"),
            scope_separator=",",
            pkce=False,
            token_auth="client_secret_basic",  # noqa: S106 - a method name
        )

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        async with net.client() as http:
            body = await get_json(
                http,
                "pinterest",
                f"{self.api}/v5/boards",
                what="the boards",
                headers=_bearer(tokens),
                params={"page_size": "100"},
            )
        items = [b for b in body.get("items") or [] if isinstance(b, dict)]
        boards = [{"id": str(b["id"]), "name": str(b.get("name") or "")} for b in items]
        owner = next(
            (
                str((b.get("owner") or {}).get("username"))
                for b in items
                if (b.get("owner") or {}).get("username")
            ),
            "pinterest",
        )
        chosen = str(choices.get("board_id") or (boards[0]["id"] if boards else ""))
        settings: dict[str, Any] = {"boards": boards}
        if chosen:
            settings["board_id"] = chosen
        return [Connected("pinterest", owner, owner, owner, tokens, settings=settings)]


class RedditConnector(Connector):
    platform: ClassVar[str] = "reddit"
    roots = ("https://www.reddit.com", "https://www.reddit.com", "https://oauth.reddit.com")

    def flow(self, choices: Mapping[str, Any] | None = None) -> CodeFlow:
        return CodeFlow(
            "reddit",
            f"{self.web}/api/v1/authorize",
            f"{self.token_root}/api/v1/access_token",
            ("identity", "submit", "read", "flair"),
            pkce=False,
            token_auth="client_secret_basic",  # noqa: S106 - a method name
            authorize_params={"duration": "permanent"},  # a refresh token that lasts
        )

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        from postiz_pipelines.providers.reddit import RedditProvider

        agent = str(self.options.get("user_agent") or "python:postiz-pipelines:0.1")
        async with net.client(headers={"User-Agent": agent}) as http:
            me = await get_json(
                http, "reddit", f"{self.api}/api/v1/me", what="/api/v1/me", headers=_bearer(tokens)
            )
            settings: dict[str, Any] = {}
            sr = str(choices.get("subreddit") or "").removeprefix("r/").strip()
            if sr:
                provider = RedditProvider(http, base_url=self.api, user_agent=agent)
                rules = await provider.subreddit_rules(
                    _creds("reddit", tokens, str(me["name"])), sr
                )
                settings = {"subreddit": sr, "subreddit_rules": {sr: rules}}
        name = str(me["name"])
        return [
            Connected("reddit", str(me.get("id") or name), name, name, tokens, settings=settings)
        ]
