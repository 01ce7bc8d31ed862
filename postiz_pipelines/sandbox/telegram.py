"""The Telegram Bot API emulator: ``getMe``, ``sendMessage``, ``sendPhoto``, ``sendVideo``
and ``sendMediaGroup`` at ``https://api.telegram.org/bot<token>/<method>``, mounted as
``/telegram/bot<token>/<method>``. Parameters come as JSON, a form, or multipart with
uploads (complex values such as ``reply_parameters`` and ``media`` as JSON strings);
every answer is ``{ok, result}`` or ``{ok: false, error_code, description, parameters}``.

Limits: text 1-4,096 and captions 0-1,024 UTF-16 units (entities are not parsed: the
text counts as sent); an uploaded photo at most 10 MB, width + height at most 10,000 and
a side ratio of at most 20; any upload at most 50 MB; an album 2-10 photos and videos.
Throttling: 30 messages a second per bot, 20 a minute per group or channel, answered
``429 Too Many Requests: retry after N`` with ``parameters.retry_after``.

A bot token is ``<bot id>:<secret>``: a malformed one is ``404 Not Found``, an unseen one
makes a new bot, a revoked or expired one is ``401 Unauthorized``. Chats exist as soon as
they are addressed (a positive id is a private chat, ``-100…`` a supergroup, another
negative id a basic group, ``@name`` a channel). ``telegram_chats(state)`` steers them in
tests: upgrade a group to a supergroup (the old id then answers ``migrate_to_chat_id``),
remove the bot (403), or delete the chat (``chat not found``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import weakref
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from postiz_pipelines.providers.text import utf16_units
from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.state import (
    AcceptedPost,
    SandboxAccount,
    SandboxState,
    StoredMedia,
    TokenStatus,
)

PLATFORM = "telegram"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
PHOTO_MAX_BYTES = 10 * 1024 * 1024
UPLOAD_MAX_BYTES = 50 * 1024 * 1024
PHOTO_MAX_SIDES = 10_000
PHOTO_MAX_RATIO = 20
ALBUM_SIZES = range(2, 11)
BOT_LIMIT = (30, 1.0)
GROUP_LIMIT = (20, 60.0)
TOKEN_RE = re.compile(r"^(\d+):[\w-]+$")
BAD_GATEWAY_PAGE = "<html><head><title>{0}</title></head><body><h1>{0}</h1></body></html>"


@dataclass
class _Chat:
    id: int | str
    type: str  # private | group | supergroup | channel
    next_message_id: int = 1
    migrated_to: int | None = None
    bot_removed: bool = False
    deleted: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            out["first_name"] = f"User {self.id}"
        elif isinstance(self.id, str):  # a public channel addressed by @name
            number = int(hashlib.sha256(self.id.encode()).hexdigest()[:8], 16)
            out.update(id=-1_000_000_000_000 - number, username=self.id[1:], title=self.id[1:])
        else:
            out["title"] = f"Chat {self.id}"
        return out


@dataclass
class _World:
    chats: dict[int | str, _Chat] = field(default_factory=dict)
    files: dict[str, StoredMedia] = field(default_factory=dict)  # file_id -> upload


_WORLDS: weakref.WeakKeyDictionary[SandboxState, _World] = weakref.WeakKeyDictionary()
_WORLD_MARK = "~telegram-world"


def _world(state: SandboxState) -> _World:
    """Telegram's own memory for ``state``, renewed after ``state.reset()`` (a marker row in
    the state's media tells whether the state was reset since the memory was made)."""
    with state.lock:
        world = _WORLDS.get(state)
        if world is None or state.media(PLATFORM, _WORLD_MARK) is None:
            world = _WORLDS[state] = _World()
            state.put_media(StoredMedia(PLATFORM, _WORLD_MARK, "", "", 0, "", state.now()))
        return world


def _chat_type(chat_id: int | str) -> str:
    if isinstance(chat_id, str):
        return "channel"
    if chat_id > 0:
        return "private"
    return "supergroup" if str(chat_id).startswith("-100") else "group"


class TelegramChats:
    """Test controls of the chats a sandbox state knows; see the module docstring."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def _chat(self, chat_id: int | str) -> _Chat:
        world = _world(self._state)
        return world.chats.setdefault(chat_id, _Chat(chat_id, _chat_type(chat_id)))

    def upgrade(self, chat_id: int) -> int:
        """Turn a basic group into a supergroup; returns the supergroup's new id."""
        chat = self._chat(chat_id)
        if chat.type != "group":
            raise ValueError(f"chat {chat_id} is a {chat.type}, only a group can be upgraded")
        chat.migrated_to = int(f"-100{abs(chat_id)}")
        return chat.migrated_to

    def remove_bot(self, chat_id: int | str) -> None:
        """The bot is kicked from a group or channel, or blocked by a private chat's user."""
        self._chat(chat_id).bot_removed = True

    def delete(self, chat_id: int | str) -> None:
        """The chat no longer exists: every call to it answers ``chat not found``."""
        self._chat(chat_id).deleted = True


def telegram_chats(state: SandboxState) -> TelegramChats:
    """The chat controls of ``state`` (see ``TelegramChats``)."""
    return TelegramChats(state)


def _parse_chat_id(value: Any) -> int | str | None:
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    if text.startswith("@"):
        return text
    try:
        return int(text)
    except ValueError:
        return None


def _json_field(value: Any) -> Any:
    """A complex parameter: an object in a JSON body, a JSON string in a form."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


class TelegramSandbox(PlatformSandbox):
    """See the module docstring."""

    name: ClassVar[str] = PLATFORM

    # -- answers -----------------------------------------------------------------------
    def error_response(self, status: int, message: str) -> Response:
        return self.bot_error(status, message)

    def bot_error(self, status: int, description: str, **parameters: Any) -> Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return JSONResponse(body, status_code=status)

    def fail(self, status: int, description: str, **parameters: Any) -> HttpError:
        return HttpError(self.bot_error(status, description, **parameters))

    def fault_response(self, status: int, *, reset_at: datetime | None, call: Call) -> Response:
        if status == 502:  # nginx in front of the Bot API answers this one
            return HTMLResponse(BAD_GATEWAY_PAGE.format("502 Bad Gateway"), status_code=502)
        if status == 429:
            seconds = (
                5
                if reset_at is None
                else max(1, int((reset_at - self.state.now()).total_seconds()))
            )
            return self.bot_error(
                429, f"Too Many Requests: retry after {seconds}", retry_after=seconds
            )
        return super().fault_response(status, reset_at=reset_at, call=call)

    @staticmethod
    def ok(result: Any) -> Response:
        return JSONResponse({"ok": True, "result": result})

    # -- auth, chats, throttling -------------------------------------------------------
    def _bot(self, call: Call) -> tuple[SandboxAccount, int]:
        token = call.request.path_params["token"]
        match = TOKEN_RE.match(token)
        if match is None:
            raise self.fail(404, "Not Found")
        auth = self.state.authenticate(self.name, token)
        if auth.status is not TokenStatus.VALID or auth.account.disabled:
            raise self.fail(401, "Unauthorized")
        return auth.account, int(match[1])

    def _chat(self, params: dict[str, Any]) -> _Chat:
        chat_id = _parse_chat_id(params.get("chat_id"))
        if chat_id is None:
            raise self.fail(400, "Bad Request: chat_id is empty")
        world = _world(self.state)
        chat = world.chats.setdefault(chat_id, _Chat(chat_id, _chat_type(chat_id)))
        if chat.deleted:
            raise self.fail(400, "Bad Request: chat not found")
        if chat.migrated_to is not None:
            raise self.fail(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=chat.migrated_to,
            )
        if chat.bot_removed:
            if chat.type == "private":
                raise self.fail(403, "Forbidden: bot was blocked by the user")
            raise self.fail(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        return chat

    def _throttle(self, bot: SandboxAccount, chat: _Chat) -> None:
        budgets = [("bot", bot.id, BOT_LIMIT)]
        if chat.type != "private":
            budgets.append(("group", f"{bot.id}:{chat.id}", GROUP_LIMIT))
        for bucket, key, (limit, per) in budgets:
            window = self.state.hit_rate_limit(self.name, bucket, key, limit=limit, per_seconds=per)
            if window.exceeded:
                seconds = max(1, int((window.reset_at - self.state.now()).total_seconds()))
                raise self.fail(
                    429, f"Too Many Requests: retry after {seconds}", retry_after=seconds
                )

    async def _params(self, call: Call) -> dict[str, Any]:
        try:
            return await call.json_or_form()
        except (ValueError, HTTPException):
            raise self.fail(400, "Bad Request: can't parse request body") from None

    # -- rendering ---------------------------------------------------------------------
    def _message(
        self, bot: SandboxAccount, bot_id: int, chat: _Chat, message_id: int, **fields: Any
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(self.state.now().timestamp()),
            "chat": chat.as_json(),
        }
        if chat.type == "channel":
            message["sender_chat"] = chat.as_json()
        else:
            message["from"] = self._bot_user(bot, bot_id)
        message.update({k: v for k, v in fields.items() if v is not None})
        return message

    @staticmethod
    def _bot_user(bot: SandboxAccount, bot_id: int) -> dict[str, Any]:
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot.display_name,
            "username": f"{bot.username}_bot",
        }

    @staticmethod
    def _media_json(media: StoredMedia) -> Any:
        base = {
            "file_id": media.id,
            "file_unique_id": media.sha256[:16],
            "file_size": media.size_bytes,
        }
        if media.mime_type.startswith("video/"):
            return {
                **base,
                "width": media.width or 0,
                "height": media.height or 0,
                "duration": 0,
                "mime_type": media.mime_type,
                "file_name": media.filename,
            }
        width, height = media.width or 0, media.height or 0
        scale = min(1.0, 90 / max(width, height, 1))
        thumb = {
            **base,
            "file_id": media.id + "-s",
            "width": int(width * scale),
            "height": int(height * scale),
        }
        return [thumb, {**base, "width": width, "height": height}]

    # -- endpoints ---------------------------------------------------------------------
    @endpoint("POST", "/bot{token}/getMe")
    async def get_me(self, call: Call) -> Response:
        bot, bot_id = self._bot(call)
        return self.ok(
            {
                **self._bot_user(bot, bot_id),
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    @endpoint("POST", "/bot{token}/sendMessage", publish=True)
    async def send_message(self, call: Call) -> Response:
        bot, bot_id = self._bot(call)
        params = await self._params(call)
        chat = self._chat(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise self.fail(400, "Bad Request: message text is empty")
        if utf16_units(text) > TEXT_LIMIT:
            raise self.fail(400, "Bad Request: message is too long")
        reply_to = self._reply_to(chat, params)
        self._throttle(bot, chat)
        message = self._record(bot, chat, text, (), reply_to)
        return self.ok(
            self._message(
                bot,
                bot_id,
                chat,
                message,
                text=text,
                **self._reply_json(bot, bot_id, chat, reply_to),
            )
        )

    @endpoint("POST", "/bot{token}/sendPhoto", publish=True)
    async def send_photo(self, call: Call) -> Response:
        return await self._send_one(call, "photo")

    @endpoint("POST", "/bot{token}/sendVideo", publish=True)
    async def send_video(self, call: Call) -> Response:
        return await self._send_one(call, "video")

    async def _send_one(self, call: Call, kind: str) -> Response:
        bot, bot_id = self._bot(call)
        params = await self._params(call)
        chat = self._chat(params)
        caption = self._caption(params.get("caption"))
        media = await self._file(bot, params.get(kind), kind, params)
        reply_to = self._reply_to(chat, params)
        self._throttle(bot, chat)
        message = self._record(bot, chat, caption, (media,), reply_to)
        return self.ok(
            self._message(
                bot,
                bot_id,
                chat,
                message,
                caption=caption or None,
                **{kind: self._media_json(media)},
                **self._reply_json(bot, bot_id, chat, reply_to),
            )
        )

    @endpoint("POST", "/bot{token}/sendMediaGroup", publish=True)
    async def send_media_group(self, call: Call) -> Response:
        bot, bot_id = self._bot(call)
        params = await self._params(call)
        chat = self._chat(params)
        items = _json_field(params.get("media"))
        if not isinstance(items, list) or len(items) not in ALBUM_SIZES:
            count = len(items) if isinstance(items, list) else 0
            raise self.fail(400, f"Bad Request: media group must have 2-10 items, got {count}")
        stored: list[tuple[str, StoredMedia, str]] = []
        for item in items:
            kind = str((item or {}).get("type") or "")
            if kind not in ("photo", "video"):
                raise self.fail(
                    400, f"Bad Request: unsupported media type {kind!r} in a media group"
                )
            ref = str(item.get("media") or "")
            source = (
                params.get(ref.removeprefix("attach://")) if ref.startswith("attach://") else ref
            )
            caption = self._caption(item.get("caption"))
            stored.append((kind, await self._file(bot, source, kind, item), caption))
        reply_to = self._reply_to(chat, params)
        self._throttle(bot, chat)
        first = self._record(bot, chat, stored[0][2], tuple(m for _, m, _ in stored), reply_to)
        group_id = str(13_000_000_000_000_000 + self.state.next_number())
        messages = []
        for i, (kind, media, caption) in enumerate(stored):
            message_id = first if i == 0 else self._next_id(chat)
            messages.append(
                self._message(
                    bot,
                    bot_id,
                    chat,
                    message_id,
                    media_group_id=group_id,
                    caption=caption or None,
                    **{kind: self._media_json(media)},
                    **self._reply_json(bot, bot_id, chat, reply_to),
                )
            )
        return self.ok(messages)

    # -- pieces ------------------------------------------------------------------------
    def _caption(self, value: Any) -> str:
        caption = str(value or "")
        if utf16_units(caption) > CAPTION_LIMIT:
            raise self.fail(400, "Bad Request: message caption is too long")
        return caption

    def _reply_to(self, chat: _Chat, params: dict[str, Any]) -> int | None:
        reply = _json_field(params.get("reply_parameters")) or {}
        raw = reply.get("message_id") if isinstance(reply, dict) else None
        raw = raw if raw is not None else params.get("reply_to_message_id")
        if raw in (None, ""):
            return None
        try:
            message_id = int(raw)
        except (TypeError, ValueError):
            raise self.fail(400, "Bad Request: invalid reply parameters") from None
        if self.state.post(self.name, f"{chat.id}:{message_id}") is None:
            if isinstance(reply, dict) and reply.get("allow_sending_without_reply"):
                return None
            raise self.fail(400, "Bad Request: message to be replied not found")
        return message_id

    def _reply_json(
        self, bot: SandboxAccount, bot_id: int, chat: _Chat, reply_to: int | None
    ) -> dict[str, Any]:
        """``reply_to_message``: the replied-to message, as Telegram embeds it."""
        if reply_to is None:
            return {}
        parent = self.state.post(self.name, f"{chat.id}:{reply_to}")
        assert parent is not None  # _reply_to checked it
        message = self._message(bot, bot_id, chat, reply_to)
        message["date"] = int(parent.created_at.timestamp())
        message["caption" if parent.media else "text"] = parent.text
        return {"reply_to_message": message}

    async def _file(
        self, bot: SandboxAccount, source: Any, kind: str, params: dict[str, Any]
    ) -> StoredMedia:
        """An uploaded file, or one sent before and named by its ``file_id``."""
        if isinstance(source, str) and source in _world(self.state).files:
            return _world(self.state).files[source]
        if not isinstance(source, UploadFile):
            raise self.fail(400, "Bad Request: wrong file identifier/HTTP URL specified")
        data = await source.read()
        if len(data) > UPLOAD_MAX_BYTES:
            raise self.fail(413, "Request Entity Too Large")
        mime = (source.content_type or "application/octet-stream").split(";")[0].strip()
        media = StoredMedia(
            platform=self.name,
            id=f"{'AgAC' if kind == 'photo' else 'BAAC'}AgUAAxkB{self.state.next_number():08d}",
            account_id=bot.id,
            mime_type=mime,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            created_at=self.state.now(),
            filename=source.filename or "",
        )
        if kind == "photo":
            media = self._check_photo(media, data)
        else:
            width, height = params.get("width"), params.get("height")
            media = replace(media, width=_int(width), height=_int(height))
        _world(self.state).files[media.id] = media
        return self.state.put_media(media)

    def _check_photo(self, media: StoredMedia, data: bytes) -> StoredMedia:
        from PIL import Image, UnidentifiedImageError  # only photo uploads need Pillow

        if media.size_bytes > PHOTO_MAX_BYTES:
            raise self.fail(400, "Bad Request: file is too big")
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError, ValueError):
            raise self.fail(400, "Bad Request: IMAGE_PROCESS_FAILED") from None
        ratio = max(width, height) / max(1, min(width, height))
        if width + height > PHOTO_MAX_SIDES or ratio > PHOTO_MAX_RATIO:
            raise self.fail(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        return replace(media, width=width, height=height)

    def _next_id(self, chat: _Chat) -> int:
        with self.state.lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
            return message_id

    def _record(
        self,
        bot: SandboxAccount,
        chat: _Chat,
        text: str,
        media: tuple[StoredMedia, ...],
        reply_to: int | None,
    ) -> int:
        message_id = self._next_id(chat)
        self.state.record_post(
            AcceptedPost(
                platform=self.name,
                account_id=bot.id,
                handle=bot.username,
                text=text,
                remote_id=f"{chat.id}:{message_id}",
                created_at=self.state.now(),
                media=media,
                reply_to=None if reply_to is None else f"{chat.id}:{reply_to}",
                extra={"chat_id": chat.id, "chat_type": chat.type, "message_id": message_id},
            )
        )
        return message_id


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
