"""``oauth.v2.access`` of the Slack emulator, with token rotation, and the
``conversations.list`` a newly installed bot picks its channel from.

A ``code`` (any unused one makes a new bot) grants rotating tokens: an access token
``xoxe.xoxb-…`` for 12 hours and a refresh token ``xoxe-1-…``; ``grant_type=refresh_token``
grants a new pair and revokes the old refresh token. The client authenticates with HTTP
Basic auth or ``client_id`` and ``client_secret`` in the form.
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.responses import Response

from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.slack_world import Issued, slack_world, token_digest
from postiz_pipelines.sandbox.state import SandboxState

ACCESS_TOKEN_SECONDS = 12 * 3600
# the emulated workspace's public channels (conversations.list)
CHANNELS = (("C0123456789", "general"), ("C0SANDBOX02", "marketing"))


class OAuthEndpoints:
    """``oauth.v2.access``, mixed into the Slack emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def fail(self, error: str, **extra: Any) -> HttpError: ...

        @staticmethod
        def ok(**body: Any) -> Response: ...

        async def _params(self, call: Call) -> dict[str, Any]: ...

        def _bot(self, call: Call, params: dict[str, Any]) -> Any: ...

    @endpoint("GET", "/api/conversations.list")
    async def conversations_list(self, call: Call) -> Response:
        """The public channels of the workspace, as the bot may pick one to post in."""
        self._bot(call, await self._params(call))
        return self.ok(
            channels=[
                {"id": cid, "name": name, "is_channel": True, "is_private": False}
                for cid, name in CHANNELS
            ],
            response_metadata={"next_cursor": ""},
        )

    @endpoint("POST", "/api/oauth.v2.access")
    async def oauth_access(self, call: Call) -> Response:
        params = await self._params(call)
        client_id, client_secret = _client(call, params)
        if not client_id:
            raise self.fail("invalid_client_id")
        if not client_secret:
            raise self.fail("bad_client_secret")
        world = slack_world(self.state)
        grant = params.get("grant_type")
        if grant == "refresh_token":
            old = world.refresh.get(token_digest(str(params.get("refresh_token") or "")))
            account = self.state.account(self.name, old.account_id) if old else None
            if old is None or old.revoked or account is None:
                raise self.fail("invalid_refresh_token")
            old.revoked = True
        elif grant in (None, "", "authorization_code"):
            code = str(params.get("code") or "")
            if not code or code in world.codes:
                raise self.fail("invalid_code")
            world.codes.add(code)
            account = self.state.provision(self.name, f"code:{code}")
        else:
            raise self.fail("invalid_grant_type")
        access = f"xoxe.xoxb-1-{secrets.token_urlsafe(24)}"
        refresh = f"xoxe-1-{secrets.token_urlsafe(32)}"
        # The state provisions a placeholder for the new token; the book points it at the bot.
        self.state.provision(self.name, access)
        expires = self.state.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS)
        world.access[token_digest(access)] = Issued(account.id, expires)
        world.refresh[token_digest(refresh)] = Issued(account.id)
        return self.ok(
            app_id="A0SANDBOX",
            scope="chat:write,files:write,channels:join",
            token_type="bot",  # noqa: S106 - a token kind, not a secret
            access_token=access,
            refresh_token=refresh,
            expires_in=ACCESS_TOKEN_SECONDS,
            bot_user_id=f"U{account.id:0>8}",
            team={"id": "T0SANDBOX", "name": "Sandbox"},
            enterprise=None,
            is_enterprise_install=False,
        )


def _client(call: Call, params: dict[str, Any]) -> tuple[str, str]:
    """The OAuth client, from HTTP Basic auth or the form."""
    scheme, _, value = call.request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
            return client_id, secret
        except (ValueError, UnicodeDecodeError):
            return "", ""
    return str(params.get("client_id") or ""), str(params.get("client_secret") or "")
