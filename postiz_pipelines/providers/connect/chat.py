"""Connectors of the messaging platforms, where an account is a bot and a channel.

- **Slack**: OAuth v2 installs the bot in a workspace (a rotating bot token); the user
  picks the channel among ``conversations.list``.
- **Discord**: the ``bot`` scope adds the app's bot (``options["bot_token"]``) to a guild;
  the user picks one of its text channels. The ``webhook.incoming`` scope (``choices
  {"mode": "webhook"}``) creates an incoming webhook in a channel the user picks on
  Discord's page instead.
- **Telegram**: a bot token the user pastes, verified with ``getMe``, and the chat it
  posts to, verified with ``getChat``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import ConnectRefused, TransientError
from postiz_pipelines.providers.base import TokenSet, json_body, transport_errors
from postiz_pipelines.providers.connect.base import Connector
from postiz_pipelines.providers.connect.oauth import CodeFlow, Connected, ConnectHttp, get_json

DISCORD_BOT_PERMISSIONS = str(2048 | 32768 | 1024)  # send messages, attach files, view


class SlackConnector(Connector):
    platform: ClassVar[str] = "slack"
    roots = ("https://slack.com", "https://slack.com", "https://slack.com")
    picks: ClassVar[str | None] = "channels"

    def flow(self, choices: Mapping[str, Any] | None = None) -> CodeFlow:
        return CodeFlow(
            "slack",
            f"{self.web}/oauth/v2/authorize",
            f"{self.token_root}/api/oauth.v2.access",
            ("chat:write", "files:write", "channels:join", "channels:read"),
            scope_separator=",",
            pkce=False,
        )

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        team = answer.get("team") or {}
        async with net.client() as http:
            body = await get_json(
                http,
                "slack",
                f"{self.api}/api/conversations.list",
                what="the channels",
                params={"types": "public_channel", "exclude_archived": "true"},
                headers={"Authorization": f"Bearer {tokens.access_token.reveal()}"},
            )
        if not body.get("ok"):
            raise ConnectRefused(
                f"slack: conversations.list: {body.get('error')}", field="code", platform="slack"
            )
        return [
            Connected(
                "slack",
                str(c["id"]),
                f"#{c.get('name') or c['id']}",
                f"{team.get('name') or 'Slack'} #{c.get('name') or c['id']}",
                tokens,
                settings={"team_id": str(team.get("id") or "")},
            )
            for c in body.get("channels") or []
            if isinstance(c, dict) and c.get("id")
        ]


class DiscordConnector(Connector):
    platform: ClassVar[str] = "discord"
    roots = ("https://discord.com", "https://discord.com", "https://discord.com")
    picks: ClassVar[str | None] = "channels"

    def flow(self, choices: Mapping[str, Any] | None = None) -> CodeFlow:
        webhook = (choices or {}).get("mode") == "webhook"
        return CodeFlow(
            "discord",
            f"{self.web}/oauth2/authorize",
            f"{self.token_root}/api/v10/oauth2/token",
            ("webhook.incoming",) if webhook else ("bot", "identify"),
            pkce=False,
            authorize_params={} if webhook else {"permissions": DISCORD_BOT_PERMISSIONS},
        )

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        hook = answer.get("webhook")
        if isinstance(hook, dict) and hook.get("id") and hook.get("token"):
            name = str(hook.get("name") or "webhook")
            return [
                Connected(
                    "discord",
                    str(hook["id"]),
                    name,
                    name,
                    TokenSet(Secret(str(hook["token"]))),
                    settings={
                        "target": "webhook",
                        "guild_id": str(hook.get("guild_id") or ""),
                        "channel_id": str(hook.get("channel_id") or ""),
                    },
                )
            ]
        guild = str((answer.get("guild") or {}).get("id") or "")
        bot: Secret | None = self.options.get("bot_token")
        if not guild or bot is None:
            raise ConnectRefused(
                "discord: the answer names no guild, or no bot token is set",
                field="code",
                platform="discord",
            )
        async with net.client() as http:
            with transport_errors("discord"):
                response = await http.get(
                    f"{self.api}/api/v10/guilds/{guild}/channels",
                    headers={"Authorization": f"Bot {bot.reveal()}"},
                )
        channels = json_body(response)
        if response.status_code != 200 or not isinstance(channels, list):
            raise TransientError(
                f"discord: could not list the guild's channels (HTTP {response.status_code})",
                platform="discord",
            )
        return [
            Connected(
                "discord",
                str(c["id"]),
                f"#{c.get('name') or c['id']}",
                f"#{c.get('name') or c['id']}",
                TokenSet(bot),
                settings={"guild_id": guild},
            )
            for c in channels
            if isinstance(c, dict) and c.get("type") == 0
        ]


class TelegramConnector(Connector):
    platform: ClassVar[str] = "telegram"
    kind: ClassVar[str] = "secret"
    roots = ("https://api.telegram.org",) * 3

    async def verify(self, net: ConnectHttp, bot_token: Secret, chat_id: str) -> Connected:
        """The bot (``getMe``) and the chat it will post to (``getChat``)."""
        async with net.client() as http:
            me = await self._call(http, bot_token, "getMe", {}, field="bot_token")
            chat = await self._call(
                http, bot_token, "getChat", {"chat_id": chat_id}, field="chat_id"
            )
        name = str(
            chat.get("username") or chat.get("title") or chat.get("first_name") or chat["id"]
        )
        return Connected(
            "telegram",
            str(chat["id"]),
            name,
            name,
            TokenSet(bot_token),
            settings={"bot_username": str(me.get("username") or "")},
        )

    async def _call(
        self, http: Any, token: Secret, method: str, params: dict[str, Any], *, field: str
    ) -> dict[str, Any]:
        with transport_errors("telegram"):
            response = await http.post(f"{self.api}/bot{token.reveal()}/{method}", json=params)
        body = json_body(response)
        if response.status_code in (401, 404) and method == "getMe":
            raise ConnectRefused(
                "telegram: the bot token was refused (getMe: "
                f"{(body or {}).get('description') or response.status_code})",
                field="bot_token",
                platform="telegram",
                status=response.status_code,
            )
        if response.status_code >= 500 or not isinstance(body, dict):
            raise TransientError(
                f"telegram: {method} failed (HTTP {response.status_code})",
                platform="telegram",
                status=response.status_code,
            )
        if not body.get("ok"):
            raise ConnectRefused(
                f"telegram: {method}: {body.get('description')}",
                field=field,
                platform="telegram",
                status=response.status_code,
            )
        return dict(body.get("result") or {})
