"""The Slack Web API emulator: ``chat.postMessage``, ``chat.getPermalink``,
``conversations.join``, the external file upload (``files.getUploadURLExternal``, a POST
of the bytes to the upload URL, ``files.completeUploadExternal``, ``files.info``),
``auth.test`` and ``oauth.v2.access`` with token rotation.

Hosts, mounted under ``/slack``::

    https://slack.com/api/<method>         -> /slack/api/<method>
    https://files.slack.com/upload/v1/...  -> /slack/upload/v1/...   (upload URLs)

Methods take a form, JSON, or (for reads) a query string, and a ``Bearer`` token (or a
``token`` parameter). Every answer is HTTP 200 ``{ok: true, ...}`` or ``{ok: false,
error}``, except throttling: HTTP 429, ``Retry-After`` and ``{ok: false, error:
"ratelimited"}``. ``chat.postMessage`` allows 60 messages a minute per channel (about one
a second, with bursts). Text is mrkdwn: ``&``, ``<`` and ``>`` arrive escaped and are
stored unescaped; more than 40,000 characters is ``msg_too_long``.

Files shared by ``files.completeUploadExternal`` become one message (the
``initial_comment`` and the files); its ``ts`` shows in ``files.info`` ``shares`` only
after ``SHARE_POLLS`` reads, as Slack shares files asynchronously.

Tokens: any unseen token is a bot in a workspace; revoked is ``token_revoked``, expired
``token_expired``, a disabled account ``account_inactive``. ``oauth.v2.access`` grants a
``code`` (rotating tokens: access ``xoxe.xoxb-…`` for 12 hours, refresh ``xoxe-1-…``) and
``grant_type=refresh_token`` (a new pair; the old refresh token is revoked). Channels
exist when first addressed and the bot is a member; ``slack_channels(state)`` removes the
bot, archives or deletes a channel. ``conversations.join`` joins public (``C…``) channels.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import mimetypes
import secrets
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.state import (
    AcceptedPost,
    SandboxAccount,
    SandboxState,
    StoredMedia,
    TokenStatus,
)

PLATFORM = "slack"
TEXT_LIMIT = 40_000
MESSAGE_LIMIT = (60, 60.0)
SHARE_POLLS = 1
ACCESS_TOKEN_SECONDS = 12 * 3600


@dataclass
class _Channel:
    id: str
    member: bool = True
    archived: bool = False
    deleted: bool = False

    @property
    def private(self) -> bool:
        return not self.id.startswith("C")


@dataclass
class _Upload:
    file_id: str
    account_id: str
    filename: str
    length: int
    alt_text: str
    data: bytes | None = None
    share: tuple[str, str, str | None] | None = None  # channel, ts, thread_ts
    hidden_polls: int = 0  # files.info reads that do not show the share yet


@dataclass
class _Issued:
    account_id: str
    expires_at: datetime | None = None
    revoked: bool = False


@dataclass
class _World:
    channels: dict[str, _Channel] = field(default_factory=dict)
    uploads: dict[str, _Upload] = field(default_factory=dict)  # upload key -> upload
    files: dict[str, _Upload] = field(default_factory=dict)  # file id -> upload
    access: dict[str, _Issued] = field(default_factory=dict)  # token digest -> bot
    refresh: dict[str, _Issued] = field(default_factory=dict)
    codes: set[str] = field(default_factory=set)


_WORLDS: weakref.WeakKeyDictionary[SandboxState, _World] = weakref.WeakKeyDictionary()
_WORLD_MARK = "~slack-world"


def _world(state: SandboxState) -> _World:
    """Slack's own memory for ``state``, renewed after ``state.reset()`` (a marker row in
    the state's media tells whether the state was reset since the memory was made)."""
    with state.lock:
        world = _WORLDS.get(state)
        if world is None or state.media(PLATFORM, _WORLD_MARK) is None:
            world = _WORLDS[state] = _World()
            state.put_media(StoredMedia(PLATFORM, _WORLD_MARK, "", "", 0, "", state.now()))
        return world


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SlackChannels:
    """Test controls of the channels a sandbox state knows; see the module docstring."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def _channel(self, channel_id: str) -> _Channel:
        return _world(self._state).channels.setdefault(channel_id, _Channel(channel_id))

    def remove_bot(self, channel_id: str) -> None:
        self._channel(channel_id).member = False

    def archive(self, channel_id: str) -> None:
        self._channel(channel_id).archived = True

    def delete(self, channel_id: str) -> None:
        self._channel(channel_id).deleted = True


def slack_channels(state: SandboxState) -> SlackChannels:
    """The channel controls of ``state`` (see ``SlackChannels``)."""
    return SlackChannels(state)


class SlackSandbox(PlatformSandbox):
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
        issued = _world(self.state).access.get(_digest(token))
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

    def _channel(self, channel_id: str, *, write: bool = True) -> _Channel:
        if not channel_id:
            raise self.fail("channel_not_found")
        channel = _world(self.state).channels.setdefault(channel_id, _Channel(channel_id))
        if channel.deleted:
            raise self.fail("channel_not_found")
        if write and channel.archived:
            raise self.fail("is_archived")
        if write and not channel.member:
            raise self.fail("not_in_channel")
        return channel

    def _throttle(self, bot: SandboxAccount, channel: _Channel) -> None:
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

    def _thread(self, channel: _Channel, params: dict[str, Any]) -> str | None:
        thread_ts = str(params.get("thread_ts") or "") or None
        if thread_ts is not None:
            parent = self.state.post(self.name, thread_ts)
            if parent is None or parent.extra.get("channel") != channel.id:
                raise self.fail("thread_not_found")
        return thread_ts

    def _record(
        self,
        bot: SandboxAccount,
        channel: _Channel,
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

    # -- files -------------------------------------------------------------------------
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
        upload = _Upload(file_id, bot.id, filename, length, str(params.get("alt_txt") or ""))
        world = _world(self.state)
        world.uploads[key] = world.files[file_id] = upload
        return self.ok(upload_url=f"{call.platform_url}/upload/v1/{key}", file_id=file_id)

    @endpoint("POST", "/upload/v1/{key}")
    async def upload_bytes(self, call: Call) -> Response:
        upload = _world(self.state).uploads.get(call.request.path_params["key"])
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
            ids = [(str(f["id"]), str(f.get("title") or "")) for f in wanted]
        except (TypeError, KeyError, ValueError, json.JSONDecodeError):
            raise self.fail("invalid_arguments") from None
        world = _world(self.state)
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
            stored.append(self.state.put_media(media))
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
        upload = _world(self.state).files.get(str(params.get("file") or ""))
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

    # -- OAuth -------------------------------------------------------------------------
    @endpoint("POST", "/api/oauth.v2.access")
    async def oauth_access(self, call: Call) -> Response:
        params = await self._params(call)
        client_id, client_secret = _client(call, params)
        if not client_id:
            raise self.fail("invalid_client_id")
        if not client_secret:
            raise self.fail("bad_client_secret")
        world = _world(self.state)
        grant = params.get("grant_type")
        if grant == "refresh_token":
            old = world.refresh.get(_digest(str(params.get("refresh_token") or "")))
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
        world.access[_digest(access)] = _Issued(account.id, expires)
        world.refresh[_digest(refresh)] = _Issued(account.id)
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


def _mime(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
