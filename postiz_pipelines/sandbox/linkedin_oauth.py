"""The OAuth 2.0 token endpoint of the LinkedIn emulator,
``https://www.linkedin.com/oauth/v2/accessToken``, mounted at
``/linkedin/oauth/v2/accessToken``.

It grants ``authorization_code`` (any unused code makes a new member) and
``refresh_token``: a new 60-day access token; the refresh token keeps its value and its
365-day life from the first grant, unless the emulator is configured to rotate
(``state.configure("linkedin", rotate_refresh_tokens=True)``): then each refresh issues a new
refresh token with the rest of that life and the used one stops working, as some LinkedIn
apps see. Errors are OAuth bodies ``{error, error_description}``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, endpoint
from postiz_pipelines.sandbox.linkedin_world import Issued, linkedin_world, token_digest
from postiz_pipelines.sandbox.state import SandboxState

ACCESS_TOKEN_SECONDS = 60 * 24 * 3600
REFRESH_TOKEN_SECONDS = 365 * 24 * 3600


class OAuthEndpoints:
    """The token endpoint, mixed into the LinkedIn emulator."""

    name: ClassVar[str]
    state: SandboxState

    @endpoint("POST", "/oauth/v2/accessToken")
    async def access_token(self, call: Call) -> Response:
        try:
            form = await call.json_or_form()
        except ValueError:
            return _oauth_error(400, "invalid_request", "The request body must be a form")
        if not form.get("client_id") or not form.get("client_secret"):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        grant = form.get("grant_type")
        world = linkedin_world(self.state)
        now = self.state.now()
        if grant == "authorization_code":
            code = str(form.get("code") or "")
            if not code or code in world.codes:
                return _oauth_error(
                    400, "invalid_grant", "The authorization code is invalid or was already used"
                )
            world.codes.add(code)
            account = self.state.provision(self.name, f"code:{code}")
            refresh = f"AQX{secrets.token_urlsafe(24)}"
            world.refresh[token_digest(refresh)] = Issued(
                account.id, now + timedelta(seconds=REFRESH_TOKEN_SECONDS)
            )
        elif grant == "refresh_token":
            refresh = str(form.get("refresh_token") or "")
            grant_ = world.refresh.get(token_digest(refresh))
            if (
                grant_ is None
                or now >= grant_.expires_at
                or self.state.account(self.name, grant_.account_id) is None
            ):
                return _oauth_error(
                    400,
                    "invalid_grant",
                    "The provided authorization grant or refresh token is invalid, expired or "
                    "revoked",
                )
            granted = self.state.account(self.name, grant_.account_id)
            assert granted is not None
            account = granted
            if self.state.setting(self.name, "rotate_refresh_tokens", False):
                del world.refresh[token_digest(refresh)]  # single use: the next one replaces it
                refresh = f"AQX{secrets.token_urlsafe(24)}"
                world.refresh[token_digest(refresh)] = Issued(account.id, grant_.expires_at)
        else:
            return _oauth_error(
                400, "unsupported_grant_type", f"grant_type {grant!r} is not supported"
            )
        access = f"AQV{secrets.token_urlsafe(32)}"
        # The state provisions a placeholder for the new token; the book points it at the member.
        self.state.provision(self.name, access)
        world.access[token_digest(access)] = Issued(
            account.id, now + timedelta(seconds=ACCESS_TOKEN_SECONDS)
        )
        refresh_life = world.refresh[token_digest(refresh)].expires_at - now
        return JSONResponse(
            {
                "access_token": access,
                "expires_in": ACCESS_TOKEN_SECONDS,
                "refresh_token": refresh,
                "refresh_token_expires_in": int(refresh_life.total_seconds()),
                "scope": "openid,profile,w_member_social,w_organization_social",
            }
        )


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)
