"""The external file upload of the Slack emulator: ``files.getUploadURLExternal``, a POST
of the bytes to the upload URL (``https://files.slack.com/upload/v1/<key>``, mounted at
``/slack/upload/v1/<key>``), ``files.completeUploadExternal`` and ``files.info``.

The upload URL takes the raw bytes or a multipart form, and exactly the announced length.
Files shared by ``files.completeUploadExternal`` become one message (the
``initial_comment`` and the files); its ``ts`` shows in ``files.info`` ``shares`` only
after ``SHARE_POLLS`` reads, as Slack shares files asynchronously.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import secrets
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.datastructures import UploadFile
from starlette.responses import PlainTextResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.slack_world import Channel, FileUpload, slack_world
from postiz_pipelines.sandbox.state import AcceptedPost, SandboxAccount, SandboxState, StoredMedia

SHARE_POLLS = 1


class FileEndpoints:
    """The file upload methods, mixed into the Slack emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def fail(self, error: str, **extra: Any) -> HttpError: ...

        @staticmethod
        def ok(**body: Any) -> Response: ...

        async def _params(self, call: Call) -> dict[str, Any]: ...

        def _bot(self, call: Call, params: dict[str, Any]) -> SandboxAccount: ...

        def _channel(self, channel_id: str, *, write: bool = True) -> Channel: ...

        def _thread(self, channel: Channel, params: dict[str, Any]) -> str | None: ...

        def _throttle(self, bot: SandboxAccount, channel: Channel) -> None: ...

        def _ts(self) -> str: ...

        def _text(self, value: Any) -> str: ...

        def _record(
            self,
            bot: SandboxAccount,
            channel: Channel,
            text: str,
            ts: str,
            thread_ts: str | None,
            media: tuple[StoredMedia, ...] = (),
        ) -> AcceptedPost: ...

    @endpoint("POST", "/api/files.getUploadURLExternal")
    async def upload_url(self, call: Call) -> Response:
        params = await self._params(call)
        bot = self._bot(call, params)
        filename = str(params.get("filename") or "")
        try:
            length = int(params.get("length") or 0)
        except (TypeError, ValueError):
            length = 0
        if not filename or length <= 0:
            raise self.fail(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] filename and a length greater than 0 are required"]
                },
            )
        file_id = f"F{self.state.next_number():010d}"
        key = base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")
        upload = FileUpload(file_id, bot.id, filename, length, str(params.get("alt_txt") or ""))
        world = slack_world(self.state)
        world.uploads[key] = world.files[file_id] = upload
        return self.ok(upload_url=f"{call.platform_url}/upload/v1/{key}", file_id=file_id)

    @endpoint("POST", "/upload/v1/{key}")
    async def upload_bytes(self, call: Call) -> Response:
        upload = slack_world(self.state).uploads.get(call.request.path_params["key"])
        if upload is None:
            return PlainTextResponse("Not Found", status_code=404)
        if call.request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await call.request.form()
            parts = [v for v in form.values() if isinstance(v, UploadFile)]
            data = await parts[0].read() if parts else b""
        else:  # the raw bytes, as the Slack SDK sends them
            data = await call.request.body()
        if len(data) != upload.length:
            return PlainTextResponse(
                f"Length mismatch: expected {upload.length}, got {len(data)}", status_code=400
            )
        upload.data = data
        return PlainTextResponse(f"OK - {len(data)}")

    @endpoint("POST", "/api/files.completeUploadExternal", publish=True)
    async def complete_upload(self, call: Call) -> Response:
        params = await self._params(call)
        bot = self._bot(call, params)
        try:
            wanted = params.get("files")
            wanted = json.loads(wanted) if isinstance(wanted, str) else wanted
            ids = [(str(f["id"]), str(f.get("title") or "")) for f in wanted or ()]
        except (TypeError, KeyError, ValueError, json.JSONDecodeError):
            raise self.fail("invalid_arguments") from None
        world = slack_world(self.state)
        uploads = [(world.files.get(i), title) for i, title in ids]
        if not ids or any(
            u is None or u.data is None or u.account_id != bot.id or u.share for u, _ in uploads
        ):
            raise self.fail("file_not_found")
        target = str(params.get("channel_id") or params.get("channels") or "").split(",")[0]
        files = []
        stored = []
        for upload, title in uploads:
            assert upload is not None and upload.data is not None
            media = StoredMedia(
                platform=self.name,
                id=upload.file_id,
                account_id=bot.id,
                mime_type=_mime(upload.filename),
                size_bytes=len(upload.data),
                sha256=hashlib.sha256(upload.data).hexdigest(),
                created_at=self.state.now(),
                filename=upload.filename,
                description=upload.alt_text,
            )
            stored.append(self.state.put_media(media, upload.data))
            files.append({"id": upload.file_id, "title": title or upload.filename})
        if target:
            channel = self._channel(target)
            thread_ts = self._thread(channel, params)
            self._throttle(bot, channel)
            ts = self._ts()
            self._record(
                bot,
                channel,
                self._text(params.get("initial_comment")),
                ts,
                thread_ts,
                tuple(stored),
            )
            for upload, _ in uploads:
                assert upload is not None
                upload.share = (channel.id, ts, thread_ts)
                upload.hidden_polls = SHARE_POLLS
        return self.ok(files=files)

    @endpoint("GET", "/api/files.info")
    async def file_info_get(self, call: Call) -> Response:
        return await self._file_info(call)

    @endpoint("POST", "/api/files.info")
    async def file_info_post(self, call: Call) -> Response:
        return await self._file_info(call)

    async def _file_info(self, call: Call) -> Response:
        params = await self._params(call)
        bot = self._bot(call, params)
        upload = slack_world(self.state).files.get(str(params.get("file") or ""))
        if upload is None or upload.account_id != bot.id:
            raise self.fail("file_not_found")
        shares: dict[str, Any] = {}
        if upload.share is not None and upload.hidden_polls > 0:
            upload.hidden_polls -= 1  # Slack shares asynchronously: not visible yet
        elif upload.share is not None:
            channel_id, ts, thread_ts = upload.share
            share = {
                "ts": ts,
                "channel_name": channel_id.lower(),
                "reply_count": 0,
                "share_user_id": f"U{bot.id:0>8}",
            }
            if thread_ts:
                share["thread_ts"] = thread_ts
            kind = "public" if channel_id.startswith("C") else "private"
            shares = {kind: {channel_id: [share]}}
        return self.ok(
            file={
                "id": upload.file_id,
                "name": upload.filename,
                "title": upload.filename,
                "mimetype": _mime(upload.filename),
                "size": upload.length,
                "alt_txt": upload.alt_text or None,
                "user": f"U{bot.id:0>8}",
                "shares": shares,
                "channels": [upload.share[0]] if upload.share and shares else [],
            }
        )


def _mime(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
