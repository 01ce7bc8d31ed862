"""What every connector is: a platform's consent (an authorization-code ``CodeFlow``, or a
secret the user types: an app password, a bot token) and what it reads about the account.

Each connector knows the platform's production hosts (``roots``: consent page, token
endpoint, API); pointed at the sandbox (``base_url``), all three are that base.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from postiz_pipelines.providers.base import TokenSet
from postiz_pipelines.providers.connect.oauth import CodeFlow, Connected, ConnectHttp


class Connector:
    """One platform's connect calls; ``kind`` says how the user consents."""

    platform: ClassVar[str]
    kind: ClassVar[str] = "oauth"  # oauth | secret
    roots: ClassVar[tuple[str, str, str]] = ("", "", "")  # consent, token, API (production)
    # what a selection picks among several found accounts (pages, channels), if anything
    picks: ClassVar[str | None] = None

    def __init__(
        self, *, base_url: str | None = None, options: Mapping[str, Any] | None = None
    ) -> None:
        self.sandbox = base_url is not None
        self.web, self.token_root, self.api = (
            (base_url.rstrip("/"),) * 3 if base_url else self.roots
        )
        self.options = dict(options or {})

    def flow(self, choices: Mapping[str, Any] | None = None) -> CodeFlow:
        """The code flow; ``choices`` are what the user chose when it began. Connectors of
        ``kind`` "secret" (an app password, a bot token) have none."""
        raise NotImplementedError(f"{self.platform} connects with a secret, not a code flow")

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        """The account(s) the new tokens reach; ``answer`` is the token endpoint's whole
        body, ``choices`` what the user chose when the flow began (a subreddit, an instance).
        Every code-flow connector implements it."""
        raise NotImplementedError(f"{self.platform}: a code-flow connector must identify")
