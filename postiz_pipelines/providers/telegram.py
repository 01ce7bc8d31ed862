"""Telegram: a bot posts to a chat, group or channel through the Bot API.

The account's ``access_token`` is the bot token and its ``external_id`` the chat: a numeric
id or ``@channelname``. Text goes out with ``sendMessage`` (no parse mode, so it shows as
written); one photo or video with ``sendPhoto``/``sendVideo`` and the text as caption;
2-10 with ``sendMediaGroup`` (uploads named ``attach://fileN``), the caption on the first
item. Thread items follow as replies to the previous message. Remote ids read
``<chat id>:<message id>``, since message ids count per chat.

When a group has become a supergroup the Bot API answers ``migrate_to_chat_id``: the call
is sent once more to the new chat, the rest of the post follows it there, and the result
(a ``TelegramPublishResult``) reports the new id so that it can be stored.

Bot tokens never expire and travel inside the URL, so this module keeps them out of the
log lines httpx writes. Telegram has no idempotency key: an uncertain outcome needs a person.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from postiz_pipelines.clock import Clock
from postiz_pipelines.errors import (
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    OutcomeUnknown,
    PartiallyPublished,
    ProviderError,
    RateLimited,
    TransientError,
)
from postiz_pipelines.providers.base import (
    AccountCredentials,
    Capabilities,
    IdempotencyMode,
    MediaFile,
    MediaLimits,
    PostContent,
    Provider,
    PublishResult,
    RateLimit,
    json_body,
    redact_in_httpx_logs,
    retry_after_seconds,
    transport_errors,
    upload_part,
)
from postiz_pipelines.providers.text import utf16_units

PLATFORM = "telegram"
PRODUCTION_API = "https://api.telegram.org"
_URL_TOKEN_RE = re.compile(r"/bot[^/\s]+/")

CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=4096,
    text_unit="characters",
    count_text=utf16_units,
    media=MediaLimits(
        max_items=10,
        image_types=frozenset({"image/jpeg", "image/png", "image/webp"}),
        video_types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
        max_image_bytes=10 * 1024 * 1024,
        max_video_bytes=50 * 1024 * 1024,
        max_videos=10,
        allow_mixed=True,
    ),
    supports_threads=True,
    supports_refresh=False,
    idempotency=IdempotencyMode.NONE,
    rate_limit=RateLimit(requests=20, per_seconds=60),
    caption_limit=1024,
)


@dataclass(frozen=True)
class TelegramPublishResult(PublishResult):
    """A publish result that may carry the chat's new id after a group migration."""

    migrated_to_chat_id: str | None = None


class _Migrated(Exception):  # noqa: N818 - a signal inside this module, not an error
    def __init__(self, chat_id: str) -> None:
        super().__init__(chat_id)
        self.chat_id = chat_id


class TelegramProvider(Provider):
    """Publishes with a Telegram bot; see the module docstring."""

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    default_base_url: ClassVar[str] = PRODUCTION_API

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        base_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(http, base_url=base_url, clock=clock)
        redact_in_httpx_logs(_URL_TOKEN_RE, "/bot<hidden>/")

    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Send the post (text, one media file, or an album), then each thread item as a
        reply; follow a group's migration to its supergroup once."""
        chat = account.external_id
        migrated: str | None = None
        try:
            first = await self._send_post(account, chat, content)
        except _Migrated as moved:
            chat = migrated = moved.chat_id
            first = await self._send_post(account, chat, content, may_migrate=False)
        previous = first
        thread_ids = []
        for i, text in enumerate(content.thread, start=1):
            reply = {"message_id": previous["message_id"], "allow_sending_without_reply": True}
            params = {"chat_id": chat, "text": text, "reply_parameters": json.dumps(reply)}
            try:
                previous = await self._call(account, "sendMessage", params, may_migrate=False)
            except ProviderError as exc:
                raise PartiallyPublished(
                    platform=PLATFORM, remote_id=self._remote_id(first, chat), item=i, cause=exc
                ) from exc
            thread_ids.append(self._remote_id(previous, chat))
        return TelegramPublishResult(
            remote_id=self._remote_id(first, chat),
            url=_message_url(first),
            thread_ids=tuple(thread_ids),
            http_status=200,
            migrated_to_chat_id=migrated,
            account_updates={"external_id": migrated} if migrated else {},
        )

    async def verify(self, account: AccountCredentials) -> dict[str, Any]:
        """The bot behind the token (``getMe``); raises ``AuthRevoked`` for a bad token."""
        return await self._call(account, "getMe", {}, may_migrate=False)

    # -- steps -------------------------------------------------------------------------
    async def _send_post(
        self,
        account: AccountCredentials,
        chat: str,
        content: PostContent,
        *,
        may_migrate: bool = True,
    ) -> dict[str, Any]:
        media = content.media
        if not media:
            params = {"chat_id": chat, "text": content.text}
            return await self._call(account, "sendMessage", params, may_migrate=may_migrate)
        if len(media) == 1:
            kind = "video" if media[0].kind == "video" else "photo"
            method = "sendVideo" if kind == "video" else "sendPhoto"
            params = {"chat_id": chat, "caption": content.text, **_dimensions(media[0])}
            files = {kind: upload_part(PLATFORM, media[0])}
            return await self._call(account, method, params, files=files, may_migrate=may_migrate)
        items = []
        files = {}
        for i, item in enumerate(media):
            entry: dict[str, Any] = {
                "type": "video" if item.kind == "video" else "photo",
                "media": f"attach://file{i}",
            }
            if i == 0 and content.text:
                entry["caption"] = content.text
            items.append(entry)
            files[f"file{i}"] = upload_part(PLATFORM, item)
        params = {"chat_id": chat, "media": json.dumps(items)}
        messages = await self._call(
            account, "sendMediaGroup", params, files=files, may_migrate=may_migrate
        )
        if not isinstance(messages, list) or not messages:
            raise OutcomeUnknown(
                f"{PLATFORM}: album sent but the answer had no messages",
                platform=PLATFORM,
                status=200,
            )
        return messages[0]

    def _remote_id(self, message: dict[str, Any], chat: str) -> str:
        chat_id = (message.get("chat") or {}).get("id", chat)
        return f"{chat_id}:{message['message_id']}"

    # -- HTTP --------------------------------------------------------------------------
    async def _call(
        self,
        account: AccountCredentials,
        method: str,
        params: dict[str, Any],
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        may_migrate: bool,
    ) -> Any:
        base = self.base_url_for(account)
        url = f"{base}/bot{account.access_token.reveal()}/{method}"
        with transport_errors(PLATFORM):
            if files:
                response = await self.http.post(url, data=params, files=files)
            else:
                response = await self.http.post(url, json=params)
        body = json_body(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("ok"):
            result = body.get("result")
            if method != "getMe" and not _looks_sent(result):
                raise OutcomeUnknown(
                    f"{PLATFORM}: {method} answered ok without a message",
                    platform=PLATFORM,
                    status=200,
                )
            return result
        error = self._error(response, body, media=bool(files))
        if may_migrate and isinstance(error, _Migrated):
            raise error
        if isinstance(error, _Migrated):
            raise ContentRejected(
                f"{PLATFORM}: the chat moved again to {error.chat_id}",
                platform=PLATFORM,
                status=400,
            )
        raise error

    def _error(
        self, response: httpx.Response, body: Any, *, media: bool
    ) -> ProviderError | _Migrated:
        """The error of a failed call, from Telegram's ``{ok: false, error_code, description}``."""
        status = response.status_code
        body = body if isinstance(body, dict) else {}
        parameters = body.get("parameters") or {}
        description = str(body.get("description") or f"HTTP {status} {response.reason_phrase}")
        code = body.get("error_code") or status
        if status == 200 and not body:
            # A 200 we cannot read may still have delivered the message.
            return OutcomeUnknown(
                f"{PLATFORM}: unreadable answer (HTTP 200)", platform=PLATFORM, status=200
            )
        if parameters.get("migrate_to_chat_id") is not None:
            return _Migrated(str(parameters["migrate_to_chat_id"]))
        message = f"{PLATFORM}: {description}"
        kw: dict[str, Any] = {"platform": PLATFORM, "status": status, "code": code}
        if status == 429 or parameters.get("retry_after") is not None:
            retry = parameters.get("retry_after")
            seconds = float(retry) if retry is not None else retry_after_seconds(response.headers)
            return RateLimited(message, retry_after=seconds, **kw)
        if status >= 500:
            return TransientError(message, **kw)
        if status in (401, 403, 404):  # a bad token, or the bot lost the chat
            return AuthRevoked(message, **kw)
        if status == 413 or (media and status == 400 and _about_media(description)):
            return MediaRejected(message, **kw)
        if status == 400:
            return ContentRejected(message, **kw)
        if status == 200:
            return TransientError(f"{message} (unexpected answer)", **kw)
        return ProviderError(message, **kw)


def _about_media(description: str) -> bool:
    lowered = description.lower()
    return any(w in lowered for w in ("photo", "image", "video", "file", "media", "dimensions"))


def _looks_sent(result: Any) -> bool:
    if isinstance(result, list):
        return bool(result) and all(isinstance(m, dict) and "message_id" in m for m in result)
    return isinstance(result, dict) and "message_id" in result


def _message_url(message: dict[str, Any]) -> str | None:
    """The public link of a message in a channel or supergroup; None in private chats."""
    chat = message.get("chat") or {}
    if chat.get("username"):
        return f"https://t.me/{chat['username']}/{message['message_id']}"
    chat_id = str(chat.get("id", ""))
    if chat_id.startswith("-100"):
        return f"https://t.me/c/{chat_id[4:]}/{message['message_id']}"
    return None


def _dimensions(media: MediaFile) -> dict[str, Any]:
    if media.kind != "video":
        return {}
    out: dict[str, Any] = {"supports_streaming": "true"}
    if media.width and media.height:
        out.update(width=media.width, height=media.height)
    if media.duration_ms:
        out["duration"] = round(media.duration_ms / 1000)
    return out
