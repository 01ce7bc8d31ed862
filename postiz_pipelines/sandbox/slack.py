"""The Slack Web API emulator: ``chat.postMessage``, ``chat.getPermalink``,
``conversations.join`` and ``auth.test``; ``reactions.get`` is in ``slack_reactions.py``,
the external file upload in
``slack_files.py``, ``oauth.v2.access`` with token rotation in ``slack_oauth.py``, the
channels and what else Slack remembers in ``slack_world.py``.

Hosts, mounted under ``/slack``::

    https://slack.com/api/<method>         -> /slack/api/<method>
    https://files.slack.com/upload/v1/...  -> /slack/upload/v1/...   (upload URLs)

Methods take a form, JSON, or (for reads) a query string, and a ``Bearer`` token (or a
``token`` parameter). Every answer is HTTP 200 ``{ok: true, ...}`` or ``{ok: false,
error}``, except throttling: HTTP 429, ``Retry-After`` and ``{ok: false, error:
"ratelimited"}``. ``chat.postMessage`` allows 60 messages a minute per channel (about one
a second, with bursts). Text is mrkdwn: ``&``, ``<`` and ``>`` arrive escaped and are
stored unescaped; more than 40,000 characters is ``msg_too_long``.

Tokens: any unseen token is a bot in a workspace; revoked is ``token_revoked``, expired
``token_expired``, a disabled account ``account_inactive``. Channels exist when first
addressed and the bot is a member; ``slack_channels(state)`` removes the bot, archives or
deletes a channel. ``conversations.join`` joins public (``C…``) channels.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any, ClassVar

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.slack_files import SHARE_POLLS, FileEndpoints
from postiz_pipelines.sandbox.slack_oauth import ACCESS_TOKEN_SECONDS, OAuthEndpoints
from postiz_pipelines.sandbox.slack_reactions import ReactionEndpoints
from postiz_pipelines.sandbox.slack_world import (
    PLATFORM,
    Channel,
    SlackChannels,
    slack_channels,
    slack_world,
    token_digest,
)
from postiz_pipelines.sandbox.state import (
    AcceptedPost,
    SandboxAccount,
    StoredMedia,
    TokenStatus,
)

__all__ = [
    "ACCESS_TOKEN_SECONDS",
    "MESSAGE_LIMIT",
    "PLATFORM",
    "SHARE_POLLS",
    "TEXT_LIMIT",
    "SlackChannels",
    "SlackSandbox",
    "slack_channels",
]

TEXT_LIMIT = 40_000
MESSAGE_LIMIT = (60, 60.0)


class SlackSandbox(ReactionEndpoints, FileEndpoints, OAuthEndpoints, PlatformSandbox):
    """See the module docstring."""

    name: ClassVar[str] = PLATFORM

    # -- answers -----------------------------------------------------------------------
    def error_response(self, status: int, message: str) -> Response:
        return JSONResponse({"ok": False, "error": message}, status_code=status)

    def fail(self, error: str, **extra: Any) -> HttpError:
        return HttpError(JSONResponse({"ok": False, "error": error, **extra}))

    def fault_response(self, status: int, *, reset_at: datetime | None, call: Call) -> Response:
        if status == 429:
            seconds = (
                30
                if reset_at is None
                else max(1, int((reset_at - self.state.now()).total_seconds()))
            )
            return self._ratelimited(seconds)
        codes = {500: "internal_error", 503: "service_unavailable"}
        return JSONResponse(
            {"ok": False, "error": codes.get(status, "fatal_error")}, status_code=status
        )

    @staticmethod
    def _ratelimited(seconds: int) -> Response:
        return JSONResponse(
            {"ok": False, "error": "ratelimited"},
            status_code=429,
            headers={"Retry-After": str(seconds)},
        )

    @staticmethod
    def ok(**body: Any) -> Response:
        return JSONResponse({"ok": True, **body})

    # -- requests ----------------------------------------------------------------------
    async def _params(self, call: Call) -> dict[str, Any]:
        params: dict[str, Any] = dict(call.request.query_params)
        try:
            params.update(await call.json_or_form())
        except (ValueError, HTTPException):
            raise self.fail("invalid_form_data") from None
        return params

    def _bot(self, call: Call, params: dict[str, Any]) -> SandboxAccount:
        token = call.bearer_token() or str(params.get("token") or "")
        if not token:
            raise self.fail("not_authed")
        auth = self.state.authenticate(self.name, token)
        issued = slack_world(self.state).access.get(token_digest(token))
        account = (
            self.state.account(self.name, issued.account_id) if issued else None
        ) or auth.account
        if auth.status is TokenStatus.REVOKED:
            raise self.fail("token_revoked")
        if auth.status is TokenStatus.EXPIRED or (
            issued and issued.expires_at and self.state.now() >= issued.expires_at
        ):
            raise self.fail("token_expired")
        if account.disabled:
            raise self.fail("account_inactive")
        return account

    def _channel(self, channel_id: str, *, write: bool = True) -> Channel:
        if not channel_id:
            raise self.fail("channel_not_found")
        channel = slack_world(self.state).channels.setdefault(channel_id, Channel(channel_id))
        if channel.deleted:
            raise self.fail("channel_not_found")
        if write and channel.archived:
            raise self.fail("is_archived")
        if write and not channel.member:
            raise self.fail("not_in_channel")
        return channel

    def _throttle(self, bot: SandboxAccount, channel: Channel) -> None:
        window = self.state.hit_rate_limit(
            self.name,
            "messages",
            f"{bot.id}:{channel.id}",
            limit=MESSAGE_LIMIT[0],
            per_seconds=MESSAGE_LIMIT[1],
        )
        if window.exceeded:
            seconds = max(1, int((window.reset_at - self.state.now()).total_seconds()))
            raise HttpError(self._ratelimited(seconds))

    def _ts(self) -> str:
        return f"{int(self.state.now().timestamp())}.{self.state.next_number() % 1_000_000:06d}"

    def _text(self, value: Any) -> str:
        """mrkdwn as sent, back to what readers see."""
        text = html.unescape(str(value or ""))
        if len(text) > TEXT_LIMIT:
            raise self.fail("msg_too_long")
        return text

    def _thread(self, channel: Channel, params: dict[str, Any]) -> str | None:
        thread_ts = str(params.get("thread_ts") or "") or None
        if thread_ts is not None:
            parent = self.state.post(self.name, thread_ts)
            if parent is None or parent.extra.get("channel") != channel.id:
                raise self.fail("thread_not_found")
        return thread_ts

    def _record(
        self,
        bot: SandboxAccount,
        channel: Channel,
        text: str,
        ts: str,
        thread_ts: str | None,
        media: tuple[StoredMedia, ...] = (),
    ) -> AcceptedPost:
        return self.state.record_post(
            AcceptedPost(
                platform=self.name,
                account_id=bot.id,
                handle=bot.username,
                text=text,
                remote_id=ts,
                created_at=self.state.now(),
                media=media,
                reply_to=thread_ts,
                extra={"channel": channel.id},
            )
        )

    # -- messages ----------------------------------------------------------------------
    @endpoint("POST", "/api/chat.postMessage", publish=True)
    async def post_message(self, call: Call) -> Response:
        params = await self._params(call)
        bot = self._bot(call, params)
        channel = self._channel(str(params.get("channel") or ""))
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            raise self.fail("no_text")
        text = self._text(params.get("text"))
        thread_ts = self._thread(channel, params)
        self._throttle(bot, channel)
        ts = self._ts()
        self._record(bot, channel, text, ts, thread_ts)
        message: dict[str, Any] = {
            "type": "message",
            "text": str(params.get("text") or ""),
            "user": f"U{bot.id:0>8}",
            "bot_id": f"B{bot.id:0>8}",
            "ts": ts,
            "team": "T0SANDBOX",
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        return self.ok(channel=channel.id, ts=ts, message=message)

    @endpoint("GET", "/api/chat.getPermalink")
    async def permalink_get(self, call: Call) -> Response:
        return await self._permalink(call)

    @endpoint("POST", "/api/chat.getPermalink")
    async def permalink_post(self, call: Call) -> Response:
        return await self._permalink(call)

    async def _permalink(self, call: Call) -> Response:
        params = await self._params(call)
        self._bot(call, params)
        channel = self._channel(str(params.get("channel") or ""), write=False)
        ts = str(params.get("message_ts") or "")
        post = self.state.post(self.name, ts)
        if post is None or post.extra.get("channel") != channel.id:
            raise self.fail("message_not_found")
        link = f"https://sandbox.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"
        return self.ok(channel=channel.id, permalink=link)

    @endpoint("POST", "/api/conversations.join")
    async def join(self, call: Call) -> Response:
        params = await self._params(call)
        self._bot(call, params)
        channel = self._channel(str(params.get("channel") or ""), write=False)
        if channel.private:
            raise self.fail("method_not_supported_for_channel_type")
        if channel.archived:
            raise self.fail("is_archived")
        channel.member = True
        return self.ok(
            channel={"id": channel.id, "is_channel": True, "is_member": True, "is_archived": False}
        )

    @endpoint("POST", "/api/auth.test")
    async def auth_test(self, call: Call) -> Response:
        bot = self._bot(call, await self._params(call))
        return self.ok(
            url="https://sandbox.slack.com/",
            team="Sandbox",
            user=bot.username,
            team_id="T0SANDBOX",
            user_id=f"U{bot.id:0>8}",
            bot_id=f"B{bot.id:0>8}",
        )
