"""Which provider class speaks for which platform, and building them over one HTTP client.

Classes are imported on first use, so a publish run loads only the platforms it publishes to.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import httpx

from postiz_pipelines.clock import Clock
from postiz_pipelines.errors import Problem, ValidationFailed
from postiz_pipelines.providers.base import Provider

PROVIDER_PATHS: dict[str, str] = {
    "mastodon": "postiz_pipelines.providers.mastodon:MastodonProvider",
    "facebook": "postiz_pipelines.providers.facebook:FacebookProvider",
    "instagram": "postiz_pipelines.providers.instagram:InstagramProvider",
    "threads": "postiz_pipelines.providers.threads:ThreadsProvider",
    "bluesky": "postiz_pipelines.providers.bluesky:BlueskyProvider",
    "x": "postiz_pipelines.providers.x:XProvider",
    "linkedin": "postiz_pipelines.providers.linkedin:LinkedInProvider",
    "telegram": "postiz_pipelines.providers.telegram:TelegramProvider",
    "discord": "postiz_pipelines.providers.discord:DiscordProvider",
    "slack": "postiz_pipelines.providers.slack:SlackProvider",
    "youtube": "postiz_pipelines.providers.youtube:YouTubeProvider",
    "tiktok": "postiz_pipelines.providers.tiktok:TikTokProvider",
    "pinterest": "postiz_pipelines.providers.pinterest:PinterestProvider",
    "reddit": "postiz_pipelines.providers.reddit:RedditProvider",
}

_classes: dict[str, type[Provider]] = {}
_validators: dict[str, Provider] = {}


def supported_platforms() -> list[str]:
    return sorted(PROVIDER_PATHS)


def provider_class(platform: str) -> type[Provider]:
    """The provider class for ``platform``; ValidationFailed for a platform we cannot publish to."""
    cls = _classes.get(platform)
    if cls is None:
        path = PROVIDER_PATHS.get(platform)
        if path is None:
            raise ValidationFailed(
                Problem(
                    "platform",
                    f"no provider for {platform!r}; supported: {', '.join(supported_platforms())}",
                    platform,
                )
            )
        module, _, name = path.partition(":")
        cls = getattr(importlib.import_module(module), name)
        _classes[platform] = cls
    return cls


def validator(platform: str) -> Provider:
    """A client-less provider instance, for pure ``validate()`` calls."""
    if platform not in _validators:
        _validators[platform] = provider_class(platform)(None)
    return _validators[platform]


def base_url_for(
    platform: str, sandbox_url: str | None, overrides: Mapping[str, str] | None = None
) -> str | None:
    """An explicit override, else ``<sandbox>/<platform>``, else the provider's production URL."""
    if overrides and platform in overrides:
        return overrides[platform]
    if sandbox_url:
        return f"{sandbox_url.rstrip('/')}/{platform}"
    return None


class ProviderSet:
    """Providers built on demand over one shared ``httpx.AsyncClient``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        sandbox_url: str | None = None,
        base_urls: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.http = http
        self.clock = clock
        self.options = {k: dict(v) for k, v in (options or {}).items()}
        self.sandbox_url = sandbox_url
        self.base_urls = dict(base_urls or {})
        self._built: dict[str, Provider] = {}

    def get(self, platform: str) -> Provider:
        if platform not in self._built:
            cls = provider_class(platform)
            self._built[platform] = cls(
                self.http,
                base_url=base_url_for(platform, self.sandbox_url, self.base_urls),
                clock=self.clock,
                **self.options.get(platform, {}),
            )
        return self._built[platform]
