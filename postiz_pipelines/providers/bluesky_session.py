"""Bluesky sessions for ``BlueskyProvider``: ``login`` with an app password
(``createSession``) and ``refresh`` with the refresh JWT (``refreshSession``, which
rotates it: the old one is revoked). Access JWTs last 2 hours, refresh JWTs 90 days.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import AuthRevoked, RateLimited, TransientError
from postiz_pipelines.providers.base import AccountCredentials, TokenSet
from postiz_pipelines.providers.bluesky_media import PLATFORM

if TYPE_CHECKING:
    import httpx

    from postiz_pipelines.errors import ProviderError

SESSION = "session"  # the endpoint kind that makes a 401 an AuthRevoked


@dataclass(frozen=True)
class BlueskySession:
    """What ``login`` learns: the account's DID, handle, PDS and first tokens."""

    did: str
    handle: str
    pds_url: str | None
    tokens: TokenSet


class BlueskySessions:
    """The session steps of ``BlueskyProvider``, over its HTTP helpers."""

    if TYPE_CHECKING:
        base_url: str

        async def _send(
            self, method: str, account: AccountCredentials, path: str, **kwargs: Any
        ) -> httpx.Response: ...

        async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response: ...

        def _expect(
            self, response: httpx.Response, endpoint: str, ok: tuple[int, ...] = (200,)
        ) -> dict[str, Any]: ...

        def _error(self, response: httpx.Response, endpoint: str) -> ProviderError: ...

    async def login(self, identifier: str, password: str) -> BlueskySession:
        """Open a session with a handle (or DID, or email) and an app password."""
        response = await self._request(
            "POST",
            f"{self.base_url}/xrpc/com.atproto.server.createSession",
            json={"identifier": identifier, "password": Secret(password).reveal()},
        )
        body = self._expect(response, SESSION)
        doc = body.get("didDoc") or {}
        pds = next(
            (
                s.get("serviceEndpoint")
                for s in doc.get("service") or []
                if isinstance(s, dict) and str(s.get("id", "")).endswith("#atproto_pds")
            ),
            None,
        )
        return BlueskySession(str(body["did"]), str(body["handle"]), pds, _tokens(body))

    async def refresh(self, account: AccountCredentials) -> TokenSet:
        """Rotate the session with the refresh JWT; ``AuthRevoked`` when it is refused."""
        if account.refresh_token is None:
            raise AuthRevoked(
                f"{PLATFORM}: no refresh token; connect the account again with an app password",
                platform=PLATFORM,
            )
        response = await self._send(
            "POST",
            account,
            "/xrpc/com.atproto.server.refreshSession",
            token=account.refresh_token,
        )
        if response.status_code != 200:
            error = self._error(response, SESSION)
            if isinstance(error, RateLimited | TransientError):
                raise error
            raise AuthRevoked(
                f"{error.message}; connect the account again with an app password",
                platform=PLATFORM,
                status=error.status,
                code=error.code,
            )
        return _tokens(self._expect(response, SESSION))


def _tokens(session: dict[str, Any]) -> TokenSet:
    access = str(session.get("accessJwt") or "")
    refresh = session.get("refreshJwt")
    if not access:
        raise TransientError(f"{PLATFORM}: session without an access token", platform=PLATFORM)
    return TokenSet(
        access_token=Secret(access),
        refresh_token=Secret(str(refresh)) if refresh else None,
        expires_at=jwt_expiry(access),
    )


def jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` of a JWT, read without verifying it (the PDS's own business)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    except (ValueError, KeyError, TypeError):
        return None
