"""App registration and the OAuth endpoints of the Mastodon emulator: ``POST /api/v1/apps``
(a client id and secret per registration, with its redirect URIs), ``POST /oauth/token``
(the ``authorization_code`` grant; codes come from the consent page of ``authorize.py``)
and ``POST /oauth/revoke``. Mastodon access tokens do not expire and have no refresh token.
"""

from __future__ import annotations

import secrets
from typing import ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox import authorize
from postiz_pipelines.sandbox.base import Call, endpoint
from postiz_pipelines.sandbox.state import SandboxState


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


class OAuthEndpoints:
    """Mixed into the Mastodon emulator."""

    name: ClassVar[str]
    state: SandboxState

    @endpoint("POST", "/api/v1/apps")
    async def register_app(self, call: Call) -> Response:
        try:
            form = await call.json_or_form()
        except ValueError:
            return JSONResponse({"error": "Validation failed: body unreadable"}, status_code=422)
        name = str(form.get("client_name") or "").strip()
        redirects = form.get("redirect_uris") or ""
        if isinstance(redirects, list):
            redirects = " ".join(str(r) for r in redirects)
        if not name:
            return JSONResponse({"error": "Validation failed: Name can't be blank"}, 422)
        if not redirects:
            return JSONResponse({"error": "Validation failed: Redirect URI can't be blank"}, 422)
        client_id = secrets.token_urlsafe(32)
        secret = secrets.token_urlsafe(32)
        authorize.consent_book(self.state, self.name).apps[client_id] = (secret, str(redirects))
        return JSONResponse(
            {
                "id": str(self.state.next_number()),
                "name": name,
                "website": form.get("website"),
                "scopes": str(form.get("scopes") or "read").split(),
                "redirect_uri": str(redirects),
                "redirect_uris": str(redirects).split(),
                "client_id": client_id,
                "client_secret": secret,
            }
        )

    @endpoint("POST", "/oauth/token")
    async def oauth_token(self, call: Call) -> Response:
        try:
            form = await call.json_or_form()
        except ValueError:
            return _oauth_error(400, "invalid_request", "The request body is unreadable")
        apps = authorize.consent_book(self.state, self.name).apps
        client_id = str(form.get("client_id") or "")
        app = apps.get(client_id)
        if app is None or not secrets.compare_digest(app[0], str(form.get("client_secret") or "")):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type", "Only authorization_code")
        try:
            pending = authorize.redeem(
                self.state,
                self.name,
                str(form.get("code") or ""),
                client_id=client_id,
                redirect_uri=str(form.get("redirect_uri") or ""),
                code_verifier=form.get("code_verifier"),
                required=True,
            )
        except authorize.CodeRefused as exc:
            return _oauth_error(400, exc.error, exc.description)
        assert pending is not None
        token = secrets.token_urlsafe(32)
        self.state.bind_token(self.name, token, pending.account_id)
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "scope": pending.scope or "read",
                "created_at": int(self.state.now().timestamp()),
            }
        )

    @endpoint("POST", "/oauth/revoke")
    async def oauth_revoke(self, call: Call) -> Response:
        form = await call.json_or_form()
        token = str(form.get("token") or "")
        if token:
            self.state.revoke_token(self.name, token)
        return JSONResponse({})
