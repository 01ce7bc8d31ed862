"""Connectors of the open networks.

- **Mastodon**: every instance is its own platform. The instance is checked first
  (``GET /api/v2/instance``: it must answer, and answer as Mastodon, with its limits),
  then the app registers itself on it (``POST /api/v1/apps``; the caller stores and reuses
  the registration per instance and redirect URI), then the code flow with PKCE; the
  account is ``verify_credentials``.
- **Bluesky**: a handle and an app password. The handle is resolved to its DID
  (``resolveHandle``), the session opened (``createSession``) and checked to be that DID;
  the DID document of the session names the PDS the account lives on, which becomes the
  account's base URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthRevoked,
    ConnectRefused,
    ProviderError,
    RateLimited,
    TransientError,
)
from postiz_pipelines.providers.base import (
    AccountCredentials,
    TokenSet,
    json_body,
    transport_errors,
)
from postiz_pipelines.providers.connect.base import Connector
from postiz_pipelines.providers.connect.oauth import (
    CodeFlow,
    Connected,
    ConnectHttp,
    OAuthClient,
    get_json,
)

MASTODON_SCOPES = ("read", "write")
APP_NAME = "postiz-pipelines"


def instance_url(value: str) -> str:
    """An instance as a base URL, lower-case, no slash (``mastodon.social`` works too);
    ConnectRefused (``instance``) for something that is not a host."""
    raw = value.strip()
    if "://" not in raw:
        raw = f"https://{raw}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectRefused(
            f"mastodon: {value!r} is not an instance address", field="instance", platform="mastodon"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


class MastodonConnector(Connector):
    platform: ClassVar[str] = "mastodon"

    def flow(self, choices: Mapping[str, Any] | None = None) -> CodeFlow:
        instance = str((choices or {})["instance"])
        return CodeFlow(
            "mastodon",
            f"{instance}/oauth/authorize",
            f"{instance}/oauth/token",
            MASTODON_SCOPES,
        )

    async def read_instance(self, net: ConnectHttp, instance: str) -> dict[str, Any]:
        """The instance's limits; ConnectRefused (``instance``) when it does not answer or
        does not answer as Mastodon."""
        from postiz_pipelines.providers.mastodon import MastodonProvider

        creds = AccountCredentials("", "mastodon", "", "", Secret(""), base_url=instance)
        async with net.client() as http:
            try:
                return await MastodonProvider(http, base_url=instance).read_limits(creds)
            except ProviderError as exc:
                why = (
                    "does not answer"
                    if exc.status is None
                    else f"does not answer as Mastodon (HTTP {exc.status})"
                )
                raise ConnectRefused(
                    f"mastodon: the instance {instance} {why}",
                    field="instance",
                    platform="mastodon",
                    status=exc.status,
                ) from None

    async def register_app(
        self, net: ConnectHttp, instance: str, redirect_uri: str, website: str | None = None
    ) -> OAuthClient:
        """Register this app on the instance (``POST /api/v1/apps``)."""
        async with net.client() as http:
            body = await get_json(
                http,
                "mastodon",
                f"{instance}/api/v1/apps",
                what="the app registration",
                method="POST",
                field="instance",
                data={
                    "client_name": APP_NAME,
                    "redirect_uris": redirect_uri,
                    "scopes": " ".join(MASTODON_SCOPES),
                    "website": website or "",
                },
            )
        if not body.get("client_id"):
            raise ConnectRefused(
                f"mastodon: {instance} registered no app", field="instance", platform="mastodon"
            )
        secret = body.get("client_secret")
        return OAuthClient(str(body["client_id"]), Secret(str(secret)) if secret else None)

    async def identify(
        self, net: ConnectHttp, tokens: TokenSet, answer: dict[str, Any], choices: Mapping[str, Any]
    ) -> list[Connected]:
        instance = str(choices["instance"])
        async with net.client() as http:
            me = await get_json(
                http,
                "mastodon",
                f"{instance}/api/v1/accounts/verify_credentials",
                what="verify_credentials",
                headers={"Authorization": f"Bearer {tokens.access_token.reveal()}"},
            )
        name = str(me.get("username") or me["id"])
        return [
            Connected(
                "mastodon",
                str(me["id"]),
                name,
                str(me.get("display_name") or name),
                tokens,
                base_url=instance,
            )
        ]


class BlueskyConnector(Connector):
    platform: ClassVar[str] = "bluesky"
    kind: ClassVar[str] = "secret"
    roots = ("https://bsky.social",) * 3

    async def login(self, net: ConnectHttp, handle: str, app_password: Secret) -> Connected:
        """Resolve, log in, check; see the module docstring."""
        from postiz_pipelines.providers.bluesky import BlueskyProvider

        handle = handle.strip().removeprefix("@").lower()
        async with net.client() as http:
            with transport_errors("bluesky"):
                response = await http.get(
                    f"{self.api}/xrpc/com.atproto.identity.resolveHandle",
                    params={"handle": handle},
                )
            body = json_body(response)
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientError(
                    f"bluesky: resolveHandle failed (HTTP {response.status_code})",
                    platform="bluesky",
                )
            if response.status_code != 200 or not isinstance(body, dict) or not body.get("did"):
                why = (body or {}).get("message") if isinstance(body, dict) else None
                raise ConnectRefused(
                    f"bluesky: the handle {handle!r} does not resolve "
                    f"({why or response.status_code})",
                    field="handle",
                    platform="bluesky",
                    status=response.status_code,
                )
            did = str(body["did"])
            try:
                session = await BlueskyProvider(http, base_url=self.api).login(
                    handle, app_password.reveal()
                )
            except (RateLimited, TransientError):
                raise
            except (AuthRevoked, ProviderError) as exc:
                raise ConnectRefused(
                    f"bluesky: the app password was refused ({exc.message})",
                    field="app_password",
                    platform="bluesky",
                    status=exc.status,
                ) from None
        if session.did != did:
            raise ConnectRefused(
                f"bluesky: the session is for {session.did}, not {handle}",
                field="handle",
                platform="bluesky",
            )
        return Connected(
            "bluesky", did, session.handle, session.handle, session.tokens, base_url=session.pds_url
        )
