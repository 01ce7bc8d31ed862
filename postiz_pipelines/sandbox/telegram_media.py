"""The media methods of the Telegram emulator: ``sendPhoto``, ``sendVideo`` and
``sendMediaGroup``, and the files they take.

A file is an upload in a multipart request (an album names its parts ``attach://<name>``)
or the ``file_id`` of a file sent before. Limits: captions 0-1,024 UTF-16 units; an
uploaded photo at most 10 MB, width + height at most 10,000 and a side ratio of at most
20; any upload at most 50 MB; an album 2-10 photos and videos.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.datastructures import UploadFile
from starlette.responses import Response

from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.counting import utf16_length
from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState, StoredMedia
from postiz_pipelines.sandbox.telegram_world import Chat, telegram_world

CAPTION_LIMIT = 1024
PHOTO_MAX_BYTES = 10 * 1024 * 1024
UPLOAD_MAX_BYTES = 50 * 1024 * 1024
PHOTO_MAX_SIDES = 10_000
PHOTO_MAX_RATIO = 20
ALBUM_SIZES = range(2, 11)


def json_field(value: Any) -> Any:
    """A complex parameter: an object in a JSON body, a JSON string in a form."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


class MediaEndpoints:
    """The media methods, mixed into the Telegram emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def fail(self, status: int, description: str, **parameters: Any) -> HttpError: ...

        @staticmethod
        def ok(result: Any) -> Response: ...

        def _bot(self, call: Call) -> tuple[SandboxAccount, int]: ...

        async def _params(self, call: Call) -> dict[str, Any]: ...

        def _chat(self, params: dict[str, Any]) -> Chat: ...

        def _throttle(self, bot: SandboxAccount, chat: Chat) -> None: ...

        def _reply_to(self, chat: Chat, params: dict[str, Any]) -> int | None: ...

        def _reply_json(
            self, bot: SandboxAccount, bot_id: int, chat: Chat, reply_to: int | None
        ) -> dict[str, Any]: ...

        def _message(
            self, bot: SandboxAccount, bot_id: int, chat: Chat, message_id: int, **fields: Any
        ) -> dict[str, Any]: ...

        def _next_id(self, chat: Chat) -> int: ...

        def _record(
            self,
            bot: SandboxAccount,
            chat: Chat,
            text: str,
            media: tuple[StoredMedia, ...],
            reply_to: int | None,
        ) -> int: ...

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
        items = json_field(params.get("media"))
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

    def _caption(self, value: Any) -> str:
        caption = str(value or "")
        if utf16_length(caption) > CAPTION_LIMIT:
            raise self.fail(400, "Bad Request: message caption is too long")
        return caption

    async def _file(
        self, bot: SandboxAccount, source: Any, kind: str, params: dict[str, Any]
    ) -> StoredMedia:
        """An uploaded file, or one sent before and named by its ``file_id``."""
        if isinstance(source, str) and source in telegram_world(self.state).files:
            return telegram_world(self.state).files[source]
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
        telegram_world(self.state).files[media.id] = media
        return self.state.put_media(media, data)

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


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
