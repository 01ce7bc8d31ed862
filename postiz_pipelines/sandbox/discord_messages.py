"""Message bodies of the Discord emulator, in and out: a request's JSON or multipart
payload and its attachments, the checks of content and files, snowflake ids, and the
message object the API answers.

Bodies are JSON, or multipart with ``payload_json`` and ``files[n]`` (alt text in
``attachments[n].description``). Content is limited to 2,000 characters, a message to 10
files of at most 10 MiB (``40005`` otherwise), a request to 25 MiB. Invalid bodies are
``50035`` with the offending fields under ``errors``.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from postiz_pipelines.sandbox.base import Call, HttpError
from postiz_pipelines.sandbox.state import AcceptedPost, SandboxAccount, SandboxState, StoredMedia

CONTENT_LIMIT = 2000
MAX_FILES = 10
FILE_MAX_BYTES = 10 * 1024 * 1024
REQUEST_MAX_BYTES = 25 * 1024 * 1024
DISCORD_EPOCH_MS = 1_420_070_400_000


def field_error(path: str, code: str, message: str) -> dict[str, Any]:
    """Discord's nested ``errors`` object for one field path such as ``attachments.0``."""
    node: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        node = {part: node}
    return node


class MessageBodies:
    """Reading requests and writing messages, mixed into the Discord emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def fail(self, status: int, message: str, code: int, **extra: Any) -> HttpError: ...

        def invalid(self, path: str, code: str, message: str) -> HttpError: ...

    # -- bodies ------------------------------------------------------------------------
    async def _payload(self, call: Call) -> tuple[dict[str, Any], list[UploadFile]]:
        """The JSON payload and the uploaded files of a JSON or multipart request."""
        length = int(call.request.headers.get("content-length") or 0)
        if length > REQUEST_MAX_BYTES:
            raise self.fail(413, "Request entity too large", 40005)
        ctype = call.request.headers.get("content-type", "")
        try:
            if ctype.startswith("multipart/form-data"):
                form = await call.request.form(max_files=100)
                payload = json.loads(str(form.get("payload_json") or "{}"))
                files = [
                    v
                    for k, v in form.multi_items()
                    if k.startswith("files[") and isinstance(v, UploadFile)
                ]
            else:
                payload, files = json.loads(await call.request.body() or b"{}"), []
        except (json.JSONDecodeError, HTTPException, UnicodeDecodeError):
            raise self.fail(400, "400: Bad Request", 0) from None
        if not isinstance(payload, dict):
            raise self.fail(400, "400: Bad Request", 0)
        return payload, files

    async def _attachments(
        self, author: SandboxAccount, payload: dict[str, Any], files: list[UploadFile]
    ) -> tuple[StoredMedia, ...]:
        if len(files) > MAX_FILES:
            raise self.invalid(
                "attachments", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length."
            )
        described = {
            str(a.get("id")): a for a in payload.get("attachments") or [] if isinstance(a, dict)
        }
        stored = []
        for i, upload in enumerate(files):
            data = await upload.read()
            if len(data) > FILE_MAX_BYTES:
                raise self.fail(413, "Request entity too large", 40005)
            meta = described.get(str(i), {})
            stored.append(
                self.state.put_media(
                    StoredMedia(
                        platform=self.name,
                        id=self._snowflake(),
                        account_id=author.id,
                        mime_type=(upload.content_type or "application/octet-stream").split(";")[0],
                        size_bytes=len(data),
                        sha256=hashlib.sha256(data).hexdigest(),
                        created_at=self.state.now(),
                        filename=str(meta.get("filename") or upload.filename or f"file{i}"),
                        description=str(meta.get("description") or ""),
                    ),
                    data,
                )
            )
        return tuple(stored)

    def _content(self, payload: dict[str, Any], media: tuple[StoredMedia, ...]) -> str:
        content = payload.get("content")
        content = "" if content is None else str(content)
        if len(content) > CONTENT_LIMIT:
            raise self.invalid(
                "content", "BASE_TYPE_MAX_LENGTH", f"Must be {CONTENT_LIMIT} or fewer in length."
            )
        if not content.strip() and not media and not payload.get("embeds"):
            raise self.fail(400, "Cannot send an empty message", 50006)
        return content

    def _snowflake(self) -> str:
        ms = int(self.state.now().timestamp() * 1000) - DISCORD_EPOCH_MS
        return str((ms << 22) | (self.state.next_number() & 0x3FFFFF))

    # -- rendering ---------------------------------------------------------------------
    def _message_json(self, call: Call, post: AcceptedPost) -> dict[str, Any]:
        extra = post.extra
        author = {
            "id": extra["author_id"],
            "username": post.handle,
            "discriminator": "0000" if extra.get("webhook_id") else "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
        }
        message: dict[str, Any] = {
            "id": post.remote_id,
            "type": 19 if post.reply_to else 0,
            "content": post.text,
            "channel_id": extra["channel_id"],
            "author": author,
            "attachments": [
                {
                    "id": m.id,
                    "filename": m.filename,
                    "size": m.size_bytes,
                    "content_type": m.mime_type,
                    "url": f"{call.platform_url}/attachments/{extra['channel_id']}"
                    f"/{m.id}/{m.filename}",
                    **({"description": m.description} if m.description else {}),
                }
                for m in post.media
            ],
            "embeds": [],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": False,
            "timestamp": post.created_at.isoformat(timespec="microseconds"),
            "edited_timestamp": None,
            "flags": 0,
            "components": [],
        }
        if extra.get("nonce") is not None:
            message["nonce"] = extra["nonce"]
        if extra.get("webhook_id"):
            message["webhook_id"] = extra["webhook_id"]
        if post.reply_to:
            message["message_reference"] = {
                "type": 0,
                "channel_id": extra["channel_id"],
                "message_id": post.reply_to,
            }
        return message
