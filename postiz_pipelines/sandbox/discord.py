"""The Discord emulator: bot messages (``POST /api/v10/channels/{id}/messages`` with
``Authorization: Bot <token>``) and webhook executions (``POST /api/webhooks/{id}/{token}``,
also under ``/api/v10``), mounted under ``/discord``, with the bot's ``GET /users/@me``
and message reads with their reactions (``discord_reads.py``).
Message bodies, in and out, are in ``discord_messages.py``; channels and webhooks as
Discord remembers them in ``discord_world.py``.

A bot message with ``nonce`` (at most 25 characters) and ``enforce_nonce: true`` returns
the message already created with that nonce in the channel within ``NONCE_SECONDS``. A
webhook answers 204 unless ``?wait=true``.

Every answer carries ``X-RateLimit-Limit/-Remaining/-Reset/-Reset-After/-Bucket``; a 429
adds ``Retry-After`` and ``X-RateLimit-Scope`` and the body ``{message, retry_after,
global}`` (a float). Budgets: 5 messages per 5 s per channel, 5 per 2 s per webhook, 50
requests a second per bot (global). Errors are ``{message, code}``.

Tokens: any unseen bot or webhook token is a new bot or webhook; a revoked bot token is
``401``, a revoked webhook token is ``10015 Unknown Webhook``. Channels exist when first
addressed; ``discord_channels(state)`` deletes them (``10003``), takes away the bot's
access (``50001``) or its permission to send (``50013``), or sets a slowmode (``20016``).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from typing import Any, ClassVar

from starlette.responses import HTMLResponse, JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.discord_messages import (
    CONTENT_LIMIT,
    DISCORD_EPOCH_MS,
    FILE_MAX_BYTES,
    MAX_FILES,
    REQUEST_MAX_BYTES,
    MessageBodies,
    field_error,
)
from postiz_pipelines.sandbox.discord_oauth import OAuthEndpoints
from postiz_pipelines.sandbox.discord_reads import MessageReads
from postiz_pipelines.sandbox.discord_world import (
    PLATFORM,
    Channel,
    DiscordChannels,
    discord_channels,
    discord_world,
)
from postiz_pipelines.sandbox.state import (
    AcceptedPost,
    RateWindow,
    SandboxAccount,
    StoredMedia,
    TokenStatus,
)

__all__ = [
    "CHANNEL_LIMIT",
    "CLOUDFLARE_PAGE",
    "CONTENT_LIMIT",
    "DISCORD_EPOCH_MS",
    "FILE_MAX_BYTES",
    "GLOBAL_LIMIT",
    "MAX_FILES",
    "NONCE_LIMIT",
    "NONCE_SECONDS",
    "PLATFORM",
    "REQUEST_MAX_BYTES",
    "WEBHOOK_LIMIT",
    "DiscordChannels",
    "DiscordSandbox",
    "discord_channels",
]

NONCE_LIMIT = 25
NONCE_SECONDS = 300
CHANNEL_LIMIT = (5, 5.0)
WEBHOOK_LIMIT = (5, 2.0)
GLOBAL_LIMIT = (50, 1.0)
CLOUDFLARE_PAGE = "<html><head><title>{0}</title></head><body><h1>{0}</h1>cloudflare</body></html>"


class DiscordSandbox(OAuthEndpoints, MessageReads, MessageBodies, PlatformSandbox):
    """See the module docstring."""

    name: ClassVar[str] = PLATFORM

    # -- answers -----------------------------------------------------------------------
    def error_response(self, status: int, message: str) -> Response:
        return JSONResponse({"message": message, "code": 0}, status_code=status)

    def fail(self, status: int, message: str, code: int, **extra: Any) -> HttpError:
        return HttpError(
            JSONResponse({"message": message, "code": code, **extra}, status_code=status)
        )

    def invalid(self, path: str, code: str, message: str) -> HttpError:
        return self.fail(400, "Invalid Form Body", 50035, errors=field_error(path, code, message))

    def fault_response(self, status: int, *, reset_at: datetime | None, call: Call) -> Response:
        if status in (502, 504):  # Cloudflare answers these
            return HTMLResponse(CLOUDFLARE_PAGE.format(f"{status} error"), status_code=status)
        if status == 429:
            seconds = 1.0 if reset_at is None else (reset_at - self.state.now()).total_seconds()
            return self._limited(max(0.0, seconds), scope="user", bucket="fault")
        return super().fault_response(status, reset_at=reset_at, call=call)

    def _limited(
        self, seconds: float, *, scope: str, bucket: str, code: int | None = None
    ) -> Response:
        body: dict[str, Any] = {
            "message": "You are being rate limited.",
            "retry_after": round(seconds, 3),
            "global": scope == "global",
        }
        if code is not None:
            body["code"] = code
        headers = {"Retry-After": str(math.ceil(seconds)), "X-RateLimit-Scope": scope}
        if scope == "global":
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Bucket": bucket,
                }
            )
        return JSONResponse(body, status_code=429, headers=headers)

    # -- auth and throttling -----------------------------------------------------------
    def _bot(self, call: Call) -> SandboxAccount:
        scheme, _, token = call.request.headers.get("authorization", "").partition(" ")
        if scheme != "Bot" or not token.strip():
            raise self.fail(401, "401: Unauthorized", 0)
        auth = self.state.authenticate(self.name, token.strip())
        if auth.status is not TokenStatus.VALID or auth.account.disabled:
            raise self.fail(401, "401: Unauthorized", 0)
        self._throttle(call, "global", auth.account.id, GLOBAL_LIMIT, headers=False)
        return auth.account

    def _throttle(
        self, call: Call, bucket: str, key: str, budget: tuple[int, float], *, headers: bool = True
    ) -> None:
        window = self.state.hit_rate_limit(
            self.name, bucket, key, limit=budget[0], per_seconds=budget[1]
        )
        seconds = max(0.0, (window.reset_at - self.state.now()).total_seconds())
        digest = hashlib.sha256(f"{bucket}:{key}".encode()).hexdigest()[:32]
        if window.exceeded:
            scope = "global" if bucket == "global" else "user"
            raise HttpError(self._limited(seconds, scope=scope, bucket=digest))
        if headers:
            self._rate_headers(call, window, seconds, digest)

    @staticmethod
    def _rate_headers(call: Call, window: RateWindow, seconds: float, bucket: str) -> None:
        call.headers["X-RateLimit-Limit"] = str(window.limit)
        call.headers["X-RateLimit-Remaining"] = str(window.remaining)
        call.headers["X-RateLimit-Reset"] = f"{window.reset_at.timestamp():.3f}"
        call.headers["X-RateLimit-Reset-After"] = f"{seconds:.3f}"
        call.headers["X-RateLimit-Bucket"] = bucket

    def _channel(self, channel_id: str) -> Channel:
        if not channel_id.isdigit():
            raise self.invalid(
                "channel_id", "NUMBER_TYPE_COERCE", f'Value "{channel_id}" is not snowflake.'
            )
        channel = discord_world(self.state).channels.setdefault(channel_id, Channel(channel_id))
        if channel.deleted:
            raise self.fail(404, "Unknown Channel", 10003)
        if not channel.access:
            raise self.fail(403, "Missing Access", 50001)
        if not channel.can_send:
            raise self.fail(403, "Missing Permissions", 50013)
        return channel

    # -- bot endpoints -----------------------------------------------------------------
    @endpoint("GET", "/api/v10/users/@me")
    async def me(self, call: Call) -> Response:
        bot = self._bot(call)
        return JSONResponse(
            {
                "id": bot.id,
                "username": bot.username,
                "discriminator": "0",
                "bot": True,
                "verified": True,
            }
        )

    @endpoint("POST", "/api/v10/channels/{channel_id}/messages", publish=True)
    async def create_message(self, call: Call) -> Response:
        bot = self._bot(call)
        channel = self._channel(call.request.path_params["channel_id"])
        payload, files = await self._payload(call)
        nonce = payload.get("nonce")
        if nonce is not None and len(str(nonce)) > NONCE_LIMIT:
            raise self.invalid(
                "nonce", "BASE_TYPE_MAX_LENGTH", f"Must be {NONCE_LIMIT} or fewer in length."
            )
        key = (
            f"{channel.id}:{nonce}" if nonce is not None and payload.get("enforce_nonce") else None
        )
        if key is not None:
            prior = self.state.find_by_idempotency_key(
                self.name, bot.id, key, within_seconds=NONCE_SECONDS
            )
            if prior is not None:
                return JSONResponse(self._message_json(call, prior))
        self._throttle(call, "channel", f"{bot.id}:{channel.id}", CHANNEL_LIMIT)
        self._slowmode(channel, bot)
        media = await self._attachments(bot, payload, files)
        content = self._content(payload, media)
        reply_to = self._reply_to(channel, payload.get("message_reference"))
        with self.state.lock:  # the nonce check and the record are one step
            prior = (
                self.state.find_by_idempotency_key(
                    self.name, bot.id, key, within_seconds=NONCE_SECONDS
                )
                if key
                else None
            )
            post = prior or self.state.record_post(
                self._post(
                    bot, channel.id, content, media, reply_to, key, nonce=nonce, author_id=bot.id
                )
            )
        channel.last_sent[bot.id] = self.state.now()
        return JSONResponse(self._message_json(call, post))

    def _slowmode(self, channel: Channel, author: SandboxAccount) -> None:
        last = channel.last_sent.get(author.id)
        if not channel.slowmode_seconds or last is None:
            return
        left = channel.slowmode_seconds - (self.state.now() - last).total_seconds()
        if left > 0:
            raise HttpError(self._limited(left, scope="user", bucket="slowmode", code=20016))

    def _reply_to(self, channel: Channel, reference: Any) -> str | None:
        if not isinstance(reference, dict) or not reference.get("message_id"):
            return None
        message_id = str(reference["message_id"])
        parent = self.state.post(self.name, message_id)
        if parent is None or parent.extra.get("channel_id") != channel.id:
            if reference.get("fail_if_not_exists") is False:
                return None
            raise self.invalid("message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
        return message_id

    def _post(
        self,
        author: SandboxAccount,
        channel_id: str,
        content: str,
        media: tuple[StoredMedia, ...],
        reply_to: str | None,
        key: str | None,
        **extra: Any,
    ) -> AcceptedPost:
        return AcceptedPost(
            platform=self.name,
            account_id=author.id,
            handle=author.username,
            text=content,
            remote_id=self._snowflake(),
            created_at=self.state.now(),
            media=media,
            reply_to=reply_to,
            idempotency_key=key,
            extra={"channel_id": channel_id, **extra},
        )

    # -- webhooks ----------------------------------------------------------------------
    @endpoint("POST", "/api/webhooks/{webhook_id}/{webhook_token}", publish=True)
    async def execute_webhook(self, call: Call) -> Response:
        return await self._execute(call)

    @endpoint("POST", "/api/v10/webhooks/{webhook_id}/{webhook_token}", publish=True)
    async def execute_webhook_v10(self, call: Call) -> Response:
        return await self._execute(call)

    async def _execute(self, call: Call) -> Response:
        webhook_id = call.request.path_params["webhook_id"]
        if not webhook_id.isdigit():
            raise self.invalid(
                "webhook_id", "NUMBER_TYPE_COERCE", f'Value "{webhook_id}" is not snowflake.'
            )
        auth = self.state.authenticate(self.name, call.request.path_params["webhook_token"])
        if auth.status is not TokenStatus.VALID:
            raise self.fail(404, "Unknown Webhook", 10015)
        hook = auth.account
        world = discord_world(self.state)
        channel_id = world.webhook_channels.setdefault(webhook_id, self._snowflake())
        channel = self._channel(channel_id)
        self._throttle(call, "webhook", webhook_id, WEBHOOK_LIMIT)
        payload, files = await self._payload(call)
        media = await self._attachments(hook, payload, files)
        content = self._content(payload, media)
        post = self.state.record_post(
            self._post(
                hook,
                channel.id,
                content,
                media,
                None,
                None,
                webhook_id=webhook_id,
                author_id=webhook_id,
            )
        )
        if call.request.query_params.get("wait", "false").lower() != "true":
            return Response(status_code=204)
        return JSONResponse(self._message_json(call, post))
