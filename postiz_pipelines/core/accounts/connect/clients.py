"""The app's OAuth client on each platform, from settings; on the sandbox, a sandbox client
when none is configured (the sandbox accepts any)."""

from __future__ import annotations

from typing import Any

from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import ConfigError
from postiz_pipelines.providers.connect.base import Connector
from postiz_pipelines.providers.connect.oauth import OAuthClient
from postiz_pipelines.providers.connect.registry import connector
from postiz_pipelines.settings import Settings

CLIENT_SETTINGS: dict[str, tuple[str, str]] = {
    "x": ("x_client_id", "x_client_secret"),
    "linkedin": ("linkedin_client_id", "linkedin_client_secret"),
    "facebook": ("meta_app_id", "meta_app_secret"),
    "instagram": ("meta_app_id", "meta_app_secret"),
    "threads": ("threads_client_id", "threads_client_secret"),
    "slack": ("slack_client_id", "slack_client_secret"),
    "discord": ("discord_client_id", "discord_client_secret"),
    "youtube": ("youtube_client_id", "youtube_client_secret"),
    "tiktok": ("tiktok_client_key", "tiktok_client_secret"),
    "pinterest": ("pinterest_client_id", "pinterest_client_secret"),
    "reddit": ("reddit_client_id", "reddit_client_secret"),
}
SANDBOX_DISCORD_BOT = "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.sandbox-discord-bot"


def _secret(value: Any) -> Secret | None:
    return Secret(value.get_secret_value()) if value is not None else None


def oauth_client(settings: Settings, platform: str) -> OAuthClient:
    """The configured client; ConfigError naming the variables when there is none."""
    id_name, secret_name = CLIENT_SETTINGS[platform]
    client_id = getattr(settings, id_name)
    if client_id:
        return OAuthClient(client_id, _secret(getattr(settings, secret_name)))
    if settings.sandbox_url:
        return OAuthClient(f"sandbox-{platform}", Secret(f"sandbox-{platform}-secret"))
    raise ConfigError(
        f"connecting {platform} needs POSTIZ_{id_name.upper()} and POSTIZ_{secret_name.upper()}"
    )


def connector_for(
    settings: Settings, platform: str, client: OAuthClient | None = None, **extra: Any
) -> Connector:
    """The platform's connector, with what it needs from settings."""
    options: dict[str, Any] = {"api_version": settings.meta_graph_api_version, **extra}
    if platform == "reddit":
        options["user_agent"] = settings.reddit_user_agent
    if platform == "discord":
        bot = _secret(settings.discord_bot_token)
        if bot is None and settings.sandbox_url:
            bot = Secret(SANDBOX_DISCORD_BOT)
        options["bot_token"] = bot
    if client is not None:
        options["client"] = client
    return connector(platform, sandbox_url=settings.sandbox_url, options=options)
