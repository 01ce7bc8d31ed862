"""Which connector connects which platform, and building one pointed at the sandbox or at
the platform's production hosts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from postiz_pipelines.errors import Problem, ValidationFailed
from postiz_pipelines.providers.connect.base import Connector
from postiz_pipelines.providers.connect.chat import (
    DiscordConnector,
    SlackConnector,
    TelegramConnector,
)
from postiz_pipelines.providers.connect.fediverse import BlueskyConnector, MastodonConnector
from postiz_pipelines.providers.connect.meta import (
    FacebookConnector,
    InstagramConnector,
    ThreadsConnector,
)
from postiz_pipelines.providers.connect.social import (
    LinkedInConnector,
    PinterestConnector,
    RedditConnector,
    TikTokConnector,
    XConnector,
    YouTubeConnector,
)

CONNECTORS: dict[str, type[Connector]] = {
    c.platform: c
    for c in (
        XConnector,
        LinkedInConnector,
        FacebookConnector,
        InstagramConnector,
        ThreadsConnector,
        SlackConnector,
        DiscordConnector,
        YouTubeConnector,
        TikTokConnector,
        PinterestConnector,
        RedditConnector,
        MastodonConnector,
        BlueskyConnector,
        TelegramConnector,
    )
}
# Instagram professional accounts connect through Facebook Login: Facebook's hosts
HOSTED_BY = {"instagram": "facebook"}


def connector(
    platform: str, *, sandbox_url: str | None, options: Mapping[str, Any] | None = None
) -> Connector:
    """The platform's connector; ValidationFailed (``platform``) for one we cannot connect."""
    cls = CONNECTORS.get(platform)
    if cls is None:
        raise ValidationFailed(
            Problem(
                "platform",
                f"cannot connect {platform!r}; one of: {', '.join(sorted(CONNECTORS))}",
                platform,
            )
        )
    host = HOSTED_BY.get(platform, platform)
    base = f"{sandbox_url.rstrip('/')}/{host}" if sandbox_url else None
    return cls(base_url=base, options=options)
