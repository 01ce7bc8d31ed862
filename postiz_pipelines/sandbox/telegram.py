"""The Telegram Bot API emulator: ``getMe``, ``sendMessage``, and (in
``telegram_media.py``) ``sendPhoto``, ``sendVideo`` and ``sendMediaGroup`` at
``https://api.telegram.org/bot<token>/<method>``, mounted as
``/telegram/bot<token>/<method>``. Parameters come as JSON, a form, or multipart with
uploads (complex values such as ``reply_parameters`` and ``media`` as JSON strings);
every answer is ``{ok, result}`` or ``{ok: false, error_code, description, parameters}``.

Limits: text 1-4,096 UTF-16 units (entities are not parsed: the text counts as sent); the
media limits are in ``telegram_media.py``. Throttling: 30 messages a second per bot, 20 a
minute per group or channel, answered ``429 Too Many Requests: retry after N`` with
``parameters.retry_after``.

A bot token is ``<bot id>:<secret>``: a malformed one is ``404 Not Found``, an unseen one
makes a new bot, a revoked or expired one is ``401 Unauthorized``. Chats exist as soon as
they are addressed (a positive id is a private chat, ``-100…`` a supergroup, another
negative id a basic group, ``@name`` a channel). ``telegram_chats(state)`` steers them in
tests: upgrade a group to a supergroup (the old id then answers ``migrate_to_chat_id``),
remove the bot (403), or delete the chat (``chat not found``); see ``telegram_world.py``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.counting import utf16_length
from postiz_pipelines.sandbox.state import (
    AcceptedPost,
    SandboxAccount,
    StoredMedia,
    TokenStatus,
)
from postiz_pipelines.sandbox.telegram_media import (
    ALBUM_SIZES,
    CAPTION_LIMIT,
    PHOTO_MAX_BYTES,
    PHOTO_MAX_RATIO,
    PHOTO_MAX_SIDES,
    UPLOAD_MAX_BYTES,
    MediaEndpoints,
    json_field,
)
from postiz_pipelines.sandbox.telegram_world import (
    PLATFORM,
    Chat,
    TelegramChats,
    chat_type,
    parse_chat_id,
    telegram_chats,
    telegram_world,
)

__all__ = [
    "ALBUM_SIZES",
    "BAD_GATEWAY_PAGE",
    "BOT_LIMIT",
    "CAPTION_LIMIT",
    "GROUP_LIMIT",
    "PHOTO_MAX_BYTES",
    "PHOTO_MAX_RATIO",
    "PHOTO_MAX_SIDES",
    "PLATFORM",
    "TEXT_LIMIT",
    "TOKEN_RE",
    "UPLOAD_MAX_BYTES",
    "TelegramChats",
    "TelegramSandbox",
    "telegram_chats",
]

TEXT_LIMIT = 4096
BOT_LIMIT = (30, 1.0)
GROUP_LIMIT = (20, 60.0)
TOKEN_RE = re.compile(r"^(\d+):[\w-]+$")
BAD_GATEWAY_PAGE = "<html><head><title>{0}</title></head><body><h1>{0}</h1></body></html>"


class TelegramSandbox(MediaEndpoints, PlatformSandbox):
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

    def _chat(self, params: dict[str, Any]) -> Chat:
        chat_id = parse_chat_id(params.get("chat_id"))
        if chat_id is None:
            raise self.fail(400, "Bad Request: chat_id is empty")
        world = telegram_world(self.state)
        chat = world.chats.setdefault(chat_id, Chat(chat_id, chat_type(chat_id)))
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

    def _throttle(self, bot: SandboxAccount, chat: Chat) -> None:
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
        self, bot: SandboxAccount, bot_id: int, chat: Chat, message_id: int, **fields: Any
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

    @endpoint("POST", "/bot{token}/getChat")
    async def get_chat(self, call: Call) -> Response:
        """The chat as the bot sees it; a chat the bot cannot reach answers as in ``_chat``."""
        self._bot(call)
        chat = self._chat(await self._params(call))
        return self.ok(chat.as_json())

    @endpoint("POST", "/bot{token}/sendMessage", publish=True)
    async def send_message(self, call: Call) -> Response:
        bot, bot_id = self._bot(call)
        params = await self._params(call)
        chat = self._chat(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise self.fail(400, "Bad Request: message text is empty")
        if utf16_length(text) > TEXT_LIMIT:
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

    # -- pieces ------------------------------------------------------------------------
    def _reply_to(self, chat: Chat, params: dict[str, Any]) -> int | None:
        reply = json_field(params.get("reply_parameters")) or {}
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
        self, bot: SandboxAccount, bot_id: int, chat: Chat, reply_to: int | None
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

    def _next_id(self, chat: Chat) -> int:
        with self.state.lock:
            message_id = chat.next_message_id
            chat.next_message_id += 1
            return message_id

    def _record(
        self,
        bot: SandboxAccount,
        chat: Chat,
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
