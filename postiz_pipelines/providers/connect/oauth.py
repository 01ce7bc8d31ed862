"""The OAuth 2.0 authorization-code flow over authlib: the authorize URL (with a PKCE
S256 challenge where the platform takes one) and the code exchange, and what every
connector shares (``OAuthClient``, ``Connected``, ``ConnectHttp``).

Every failure leaves as a ``ProviderError``: a refused code or client is ``ConnectRefused``
(with the platform's OAuth error), an unreachable platform ``TransientError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import ConnectRefused, TransientError
from postiz_pipelines.providers.base import TokenSet, json_object, transport_errors
from postiz_pipelines.providers.oauth import token_set


@dataclass(frozen=True)
class OAuthClient:
    """The app's registration on a platform (or on one Mastodon instance)."""

    client_id: str
    client_secret: Secret | None = None

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r})"


@dataclass(frozen=True)
class Connected:
    """One account a connect flow found: who it is, its tokens, what to keep in settings."""

    platform: str
    external_id: str
    handle: str
    display_name: str
    tokens: TokenSet
    base_url: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # never the tokens
        return f"Connected({self.platform!r}, {self.external_id!r}, {self.handle!r})"


@dataclass(frozen=True)
class CodeFlow:
    """One platform's authorization-code endpoints and habits."""

    platform: str
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    scope_separator: str = " "
    pkce: bool = True
    token_auth: str = "client_secret_post"  # or client_secret_basic, none
    token_method: str = "POST"
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    token_params: Mapping[str, str] = field(default_factory=dict)
    client_param: str = "client_id"  # TikTok names it client_key


@dataclass
class ConnectHttp:
    """How connect calls reach the network: one transport (the sandbox in tests)."""

    transport: httpx.AsyncBaseTransport | None = None
    timeout: float = 30.0

    def client(self, **kw: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, timeout=self.timeout, **kw)


def new_verifier() -> str:
    """A PKCE code verifier (RFC 7636: 43 to 128 characters of the unreserved set)."""
    return generate_token(64)


def _client(flow: CodeFlow, client: OAuthClient, redirect_uri: str, net: ConnectHttp | None):
    secret = client.client_secret.reveal() if client.client_secret else None
    return AsyncOAuth2Client(
        client_id=client.client_id,
        client_secret=secret,
        # a GET token request (Facebook) carries the client in its query, not a body
        token_endpoint_auth_method=flow.token_auth
        if secret and flow.token_method == "POST"
        else "none",
        scope=flow.scope_separator.join(flow.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256" if flow.pkce else None,
        transport=net.transport if net else None,
        timeout=net.timeout if net else 30.0,
    )


def authorization_url(
    flow: CodeFlow,
    client: OAuthClient,
    *,
    redirect_uri: str,
    state: str,
    code_verifier: str | None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """The URL the user opens to consent."""
    oauth = _client(flow, client, redirect_uri, None)
    params = {**flow.authorize_params, **(extra or {})}
    if flow.client_param != "client_id":
        params[flow.client_param] = client.client_id
    url, _ = oauth.create_authorization_url(
        flow.authorize_url,
        state=state,
        code_verifier=code_verifier if flow.pkce else None,
        **params,
    )
    return str(url)


async def exchange_code(
    flow: CodeFlow,
    client: OAuthClient,
    net: ConnectHttp,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    now: datetime,
) -> tuple[TokenSet, dict[str, Any]]:
    """Trade the code for tokens; the platform's whole answer comes back too (Slack's team,
    Discord's guild or webhook, TikTok's open_id)."""
    extra: dict[str, Any] = dict(flow.token_params)
    if flow.pkce and code_verifier:
        extra["code_verifier"] = code_verifier
    if flow.client_param != "client_id":
        extra[flow.client_param] = client.client_id
    if (flow.client_param != "client_id" or flow.token_method != "POST") and client.client_secret:
        extra["client_secret"] = client.client_secret.reveal()
    async with _client(flow, client, redirect_uri, net) as oauth:
        try:
            with transport_errors(flow.platform):
                token = await oauth.fetch_token(
                    flow.token_url, code=code, method=flow.token_method, **extra
                )
        except OAuthError as exc:
            raise ConnectRefused(
                f"{flow.platform}: the platform refused the authorization code "
                f"({exc.error}: {exc.description or 'no description'})",
                field="code",
                platform=flow.platform,
                code=str(exc.error),
            ) from None
        except ValueError as exc:  # not JSON
            raise TransientError(
                f"{flow.platform}: unreadable token answer", platform=flow.platform
            ) from exc
    body = dict(token)
    if not body.get("access_token"):
        nested = body.get("authed_user") or {}
        raise ConnectRefused(
            f"{flow.platform}: the token answer has no access token"
            + (" (user token only)" if nested else ""),
            field="code",
            platform=flow.platform,
        )
    return token_set(body, now=now), body


async def get_json(
    http: httpx.AsyncClient, platform: str, url: str, *, what: str, **kw: Any
) -> dict[str, Any]:
    """A read during connect: the JSON object, or ``ConnectRefused`` (401/403) / a
    ``TransientError`` naming ``what`` could not be read."""
    field = kw.pop("field", "code")
    with transport_errors(platform):
        response = await http.request(kw.pop("method", "GET"), url, **kw)
    if response.status_code in (401, 403):
        raise ConnectRefused(
            f"{platform}: the token was refused reading {what} (HTTP {response.status_code})",
            field=field,
            platform=platform,
            status=response.status_code,
        )
    if response.status_code != 200:
        raise TransientError(
            f"{platform}: could not read {what} (HTTP {response.status_code})",
            platform=platform,
            status=response.status_code,
        )
    return json_object(platform, response)
