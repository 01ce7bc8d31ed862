"""OAuth 2.0 pieces several providers share: the refresh-token grant and the token answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import AuthRevoked
from postiz_pipelines.providers.base import AccountCredentials, TokenSet


def refresh_grant(
    platform: str,
    account: AccountCredentials,
    *,
    client_id: str | None,
    client_secret: Secret | None,
    reconnect: str = "the account",
) -> dict[str, str]:
    """The form of a ``refresh_token`` grant with the app's client credentials in the body.

    Raises ``AuthRevoked`` (a person must reconnect) when the account has no refresh token
    or no OAuth client is configured for the platform.
    """
    if account.refresh_token is None:
        raise AuthRevoked(
            f"{platform}: no refresh token for {account.handle}; reconnect {reconnect}",
            platform=platform,
        )
    if not client_id or not client_secret:
        raise AuthRevoked(
            f"{platform}: no OAuth client configured to refresh tokens; reconnect {reconnect}",
            platform=platform,
        )
    return {
        "grant_type": "refresh_token",
        "refresh_token": account.refresh_token.reveal(),
        "client_id": client_id,
        "client_secret": client_secret.reveal(),
    }


def token_set(body: Mapping[str, Any], *, now: datetime) -> TokenSet:
    """Tokens from an OAuth token answer (``access_token``, optional ``refresh_token`` and
    ``expires_in`` seconds); the caller has checked that ``access_token`` is there."""
    try:
        expires_in = int(body.get("expires_in") or 0)
    except (TypeError, ValueError):
        expires_in = 0
    refresh = body.get("refresh_token")
    return TokenSet(
        access_token=Secret(str(body["access_token"])),
        refresh_token=Secret(str(refresh)) if refresh else None,
        expires_at=now + timedelta(seconds=expires_in) if expires_in > 0 else None,
    )
