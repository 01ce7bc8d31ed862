"""OAuth 2.0 pieces several providers share: the refresh-token grant and the token answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import AuthRevoked, OAuthClientMisconfigured, client_variable
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

    Raises ``AuthRevoked`` (a person must reconnect) when the account has no refresh token,
    ``OAuthClientMisconfigured`` (the operator's to fix) when no OAuth client is configured.
    """
    if account.refresh_token is None:
        raise AuthRevoked(
            f"{platform}: no refresh token for {account.handle}; reconnect {reconnect}",
            platform=platform,
        )
    if not client_id or not client_secret:
        variable = client_variable(platform, "client_id" if not client_id else "client_secret")
        raise OAuthClientMisconfigured(
            f"{platform}: no OAuth client configured to refresh tokens; set {variable}",
            platform=platform,
            variable=variable,
        )
    return {
        "grant_type": "refresh_token",
        "refresh_token": account.refresh_token.reveal(),
        "client_id": client_id,
        "client_secret": client_secret.reveal(),
    }


# what token endpoints answer when the app's client id or secret is wrong (Slack has its own)
CLIENT_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_client_id", "bad_client_secret"}
)


def require_client(
    platform: str, client_id: str | None, client_secret: Secret | None, *, secret: bool = True
) -> None:
    """``OAuthClientMisconfigured`` naming the missing variable unless the client is set."""
    missing = (
        "client_id" if not client_id else "client_secret" if secret and not client_secret else None
    )
    if missing is not None:
        variable = client_variable(platform, missing)
        raise OAuthClientMisconfigured(
            f"{platform}: no OAuth client configured for token requests; set {variable}",
            platform=platform,
            variable=variable,
        )


def client_refused(
    platform: str, error: object, *, status: int | None
) -> OAuthClientMisconfigured | None:
    """The error for a token answer that refuses the app's client (``invalid_client``): the
    client settings are wrong, not the account's grant."""
    if str(error or "") not in CLIENT_ERRORS:
        return None
    variable = client_variable(platform, "client_id")
    return OAuthClientMisconfigured(
        f"{platform}: the token endpoint refused the OAuth client ({error}); check {variable} "
        f"and {client_variable(platform, 'client_secret')}",
        platform=platform,
        variable=variable,
        status=status,
        code=str(error),
    )


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
