"""The bot-install and webhook OAuth of the Discord emulator.

``POST /api/v10/oauth2/token`` (also ``/api/oauth2/token``) exchanges a consent-page code:
with the ``bot`` scope the answer names the ``guild`` the bot was added to; with
``webhook.incoming`` it carries the new ``webhook`` (id, token, channel, URL).
``GET /api/v10/guilds/{guild_id}/channels`` lists a guild's text channels to the bot
(``channels_per_guild``, default 3, through ``state.configure("discord", ...)``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox import authorize
from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def channel_ids(guild_id: str, count: int) -> list[str]:
    return [
        str(10**18 + int(hashlib.sha256(f"{guild_id}:{n}".encode()).hexdigest()[:12], 16))
        for n in range(count)
    ]


class OAuthEndpoints:
    """Mixed into the Discord emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def _bot(self, call: Call) -> SandboxAccount: ...

        def fail(self, status: int, message: str, code: int, **extra: Any) -> HttpError: ...

    async def _token(self, call: Call) -> Response:
        form = await call.json_or_form()
        client_id = str(form.get("client_id") or "")
        secret = str(form.get("client_secret") or "")
        scheme, _, value = call.request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                client_id = secret = ""
        if not client_id or not secret:
            return _oauth_error(401, "invalid_client", "Invalid client")
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type", "Unsupported grant type")
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
        user = self.state.account(self.name, pending.account_id)
        assert user is not None
        access = secrets.token_urlsafe(24)
        self.state.bind_token(self.name, f"user-token:{access}", user.id)
        scopes = pending.scope.split()
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 604800,
            "refresh_token": secrets.token_urlsafe(24),
            "scope": pending.scope,
        }
        guild = pending.guild_id or "0"
        if "bot" in scopes:
            body["guild"] = {"id": guild, "name": f"{user.display_name}'s server"}
        if "webhook.incoming" in scopes:
            webhook_id = str(10**18 + self.state.next_number())
            token = secrets.token_urlsafe(48)
            body["webhook"] = {
                "id": webhook_id,
                "token": token,
                "type": 1,
                "name": "postiz",
                "channel_id": channel_ids(guild, 1)[0],
                "guild_id": guild,
                "url": f"{call.platform_url}/api/webhooks/{webhook_id}/{token}",
            }
        return JSONResponse(body)

    @endpoint("POST", "/api/v10/oauth2/token")
    async def oauth_token(self, call: Call) -> Response:
        return await self._token(call)

    @endpoint("POST", "/api/oauth2/token")
    async def oauth_token_unversioned(self, call: Call) -> Response:
        return await self._token(call)

    @endpoint("GET", "/api/v10/guilds/{guild_id}/channels")
    async def guild_channels(self, call: Call) -> Response:
        self._bot(call)
        guild = call.request.path_params["guild_id"]
        count = int(self.state.setting(self.name, "channels_per_guild", 3))
        names = ["general", "announcements", "random"] + [f"channel-{n}" for n in range(count)]
        return JSONResponse(
            [
                {"id": cid, "type": 0, "guild_id": guild, "name": names[n], "position": n}
                for n, cid in enumerate(channel_ids(guild, count))
            ]
        )
