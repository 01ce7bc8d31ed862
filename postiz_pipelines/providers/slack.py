"""Slack: a bot posts to a channel through the Web API.

The account's ``access_token`` is the bot token (``xoxb-…``, or ``xoxe.xoxb-…`` with token
rotation) and its ``external_id`` the channel id. Text goes out with
``chat.postMessage``, escaped for mrkdwn (``&``, ``<``, ``>``) so that it shows as
written. Files go up through ``files.getUploadURLExternal``, a POST of the bytes to the
upload URL and ``files.completeUploadExternal`` with the text as ``initial_comment``;
Slack shares them asynchronously, so ``files.info`` is polled until the share's ``ts``
(the message's id) appears. Thread items follow with ``thread_ts``.

Slack reports failures as HTTP 200 ``{ok: false, error}``: these are mapped as the
platform documents them; ``internal_error``/``fatal_error`` may have partly succeeded and
are uncertain outcomes. When the bot is not in a public channel it joins
(``conversations.join``) and tries once more, unless ``settings["auto_join"]`` is false.

With token rotation the access token expires every 12 hours (``token_expired``);
``refresh()`` calls ``oauth.v2.access`` with the refresh token, which Slack then revokes,
so the new refresh token must be stored. Slack has no idempotency key.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from postiz_pipelines.clock import Clock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthExpired,
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
    Engagement,
    IdempotencyMode,
    MediaFile,
    MediaLimits,
    PostContent,
    Provider,
    PublishResult,
    RateLimit,
    TokenSet,
    count_or_none,
    json_body,
    reaction_total,
    read_media,
    retry_after_seconds,
    transport_errors,
)
from postiz_pipelines.providers.oauth import client_refused, refresh_grant, token_set
from postiz_pipelines.providers.text import characters

PLATFORM = "slack"
PRODUCTION_API = "https://slack.com/api"
AUTH_REVOKED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "account_inactive",
        "missing_scope",
        "no_permission",
        "org_login_required",
        "ekm_access_denied",
        "team_access_not_granted",
    }
)
CONTENT_REJECTED = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "no_text",
        "thread_not_found",
        "restricted_action",
        "cannot_reply_to_message",
        "too_many_attachments",
    }
)
UNCERTAIN = frozenset({"internal_error", "fatal_error"})
TRANSIENT = frozenset({"service_unavailable", "request_timeout", "team_added_to_org"})
REFRESH_REFUSED = frozenset(
    {
        "invalid_refresh_token",
        "invalid_grant",
        "invalid_grant_type",
        "invalid_client_id",
        "bad_client_secret",
        "token_revoked",
        "invalid_code",
    }
)
FILE_METHODS = frozenset({"files.getUploadURLExternal", "files.completeUploadExternal"})
PUBLISHING = frozenset({"chat.postMessage", "files.completeUploadExternal"})

CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=40_000,
    text_unit="characters",
    count_text=characters,
    # Slack files.getUploadURLExternal: files up to 1 GB; ten attachments keep posts sane.
    media=MediaLimits(
        max_items=10,
        image_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"}),
        video_types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
        max_image_bytes=1024 * 1024 * 1024,
        max_video_bytes=1024 * 1024 * 1024,
        max_videos=10,
        allow_mixed=True,
    ),
    supports_threads=True,
    supports_refresh=True,
    idempotency=IdempotencyMode.NONE,
    rate_limit=RateLimit(requests=1, per_seconds=1),
)


def escape_mrkdwn(text: str) -> str:
    """``text`` with the three characters Slack reserves for markup escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackProvider(Provider):
    """Publishes to a Slack channel; see the module docstring.

    ``client_id``/``client_secret`` are the app's credentials (needed only to refresh);
    ``poll_interval`` seconds pass between ``files.info`` reads, at most ``max_polls``.
    """

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    default_base_url: ClassVar[str] = PRODUCTION_API
    supports_engagement: ClassVar[bool] = True

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        base_url: str | None = None,
        client_id: str | None = None,
        client_secret: Secret | None = None,
        poll_interval: float = 1.0,
        max_polls: int = 30,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(http, base_url=base_url, clock=clock)
        self.client_id = client_id
        self.client_secret = client_secret
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    def api_url(self, account: AccountCredentials) -> str:
        """The Web API root: production's is ``https://slack.com/api``; a sandbox mounts it
        at ``<sandbox>/slack/api``."""
        base = self.base_url_for(account)
        return base if base.endswith("/api") else f"{base}/api"

    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Post the message (with its files), then each thread item with ``thread_ts``."""
        channel = account.external_id
        text = escape_mrkdwn(content.text)
        if content.media:
            ts = await self._share_files(account, channel, text, content.media)
        else:
            body = await self._call(
                account, "chat.postMessage", {"channel": channel, "text": text}, join=channel
            )
            ts = str(body.get("ts") or "")
            if not ts:
                raise OutcomeUnknown(
                    f"{PLATFORM}: message posted but the answer had no ts",
                    platform=PLATFORM,
                    status=200,
                )
        thread_ids = []
        for i, item in enumerate(content.thread, start=1):
            params = {"channel": channel, "text": escape_mrkdwn(item), "thread_ts": ts}
            try:
                reply = await self._call(account, "chat.postMessage", params)
            except ProviderError as exc:
                raise PartiallyPublished(
                    platform=PLATFORM, remote_id=ts, item=i, cause=exc
                ) from exc
            thread_ids.append(str(reply.get("ts") or ""))
        return PublishResult(
            remote_id=ts,
            url=await self._permalink(account, channel, ts),
            thread_ids=tuple(thread_ids),
            http_status=200,
        )

    async def refresh(self, account: AccountCredentials) -> TokenSet:
        """A new token pair from ``oauth.v2.access``; the old refresh token stops working."""
        form = refresh_grant(
            PLATFORM,
            account,
            client_id=self.client_id,
            client_secret=self.client_secret,
            reconnect="the workspace",
        )
        with transport_errors(PLATFORM):
            response = await self.http.post(f"{self.api_url(account)}/oauth.v2.access", data=form)
        body = json_body(response)
        if (
            response.status_code == 200
            and isinstance(body, dict)
            and body.get("ok")
            and body.get("access_token")
        ):
            return token_set(body, now=self.clock.now())
        error = self._error(response, body, "oauth.v2.access")
        refused = client_refused(PLATFORM, error.code, status=error.status)
        if refused is not None:  # Slack answers invalid_client_id / bad_client_secret
            raise refused
        if isinstance(error, AuthRevoked | AuthExpired) or error.code in REFRESH_REFUSED:
            raise AuthRevoked(
                f"{PLATFORM}: token refresh failed: {error.code or error.message}",
                platform=PLATFORM,
                status=error.status,
                code=error.code,
            )
        raise error

    # -- files -------------------------------------------------------------------------
    async def _share_files(
        self, account: AccountCredentials, channel: str, text: str, media: tuple[MediaFile, ...]
    ) -> str:
        files = []
        for item in media:
            data = read_media(PLATFORM, item)
            params = {"filename": item.path.name, "length": str(len(data))}
            if item.alt_text:
                params["alt_txt"] = item.alt_text
            body = await self._call(account, "files.getUploadURLExternal", params)
            upload_url, file_id = str(body.get("upload_url") or ""), str(body.get("file_id") or "")
            if not upload_url or not file_id:
                raise TransientError(
                    f"{PLATFORM}: no upload URL for {item.path.name}", platform=PLATFORM, status=200
                )
            with transport_errors(PLATFORM):
                # The upload URL is signed: the token must not travel to it.
                response = await self.http.post(upload_url, content=data)
            if response.status_code != 200:
                raise MediaRejected(
                    f"{PLATFORM}: upload of {item.path.name} refused: HTTP {response.status_code} "
                    f"{response.text[:200]}",
                    platform=PLATFORM,
                    status=response.status_code,
                )
            files.append({"id": file_id, "title": item.alt_text or item.path.name})
        params = {"files": json.dumps(files), "channel_id": channel}
        if text:
            params["initial_comment"] = text
        await self._call(account, "files.completeUploadExternal", params, join=channel)
        try:
            return await self._wait_for_share(account, channel, files[0]["id"])
        except OutcomeUnknown:
            raise
        except ProviderError as exc:  # the files are accepted: retrying would share them twice
            raise OutcomeUnknown(
                f"{PLATFORM}: files uploaded, then reading their share failed: {exc.message}",
                platform=PLATFORM,
                status=exc.status,
                code=exc.code,
                retryable=False,
            ) from exc

    async def _wait_for_share(self, account: AccountCredentials, channel: str, file_id: str) -> str:
        for attempt in range(self.max_polls):
            if attempt:
                await asyncio.sleep(self.poll_interval)
            body = await self._call(account, "files.info", {"file": file_id})
            shares = (body.get("file") or {}).get("shares") or {}
            for kind in ("public", "private"):
                found = (shares.get(kind) or {}).get(channel) or []
                if found and found[0].get("ts"):
                    return str(found[0]["ts"])
        # The files were accepted; whether Slack shared them is not known yet.
        raise OutcomeUnknown(
            f"{PLATFORM}: files uploaded but not shared to {channel} after {self.max_polls} reads",
            platform=PLATFORM,
            status=200,
            retryable=False,
        )

    async def engagement(
        self, account: AccountCredentials, remote_ids: Sequence[str]
    ) -> list[Engagement]:
        """``reactions.get`` per message (``reactions:read`` scope): every reaction counts as
        a like, the thread's ``reply_count`` as replies (Slack omits both when there are
        none, which is zero); ``message_not_found`` is a deleted message."""
        out = []
        for ts in remote_ids:
            params = {"channel": account.external_id, "timestamp": ts, "full": "true"}
            try:
                body = await self._call(account, "reactions.get", params)
            except ProviderError as exc:
                if exc.code != "message_not_found":
                    raise
                out.append(Engagement(ts, found=False))
                continue
            message = body.get("message")
            message = message if isinstance(message, dict) else {}
            likes = reaction_total(message.get("reactions"))
            replies = count_or_none(message.get("reply_count")) or 0
            out.append(Engagement(ts, likes=likes, replies=replies))
        return out

    async def _permalink(self, account: AccountCredentials, channel: str, ts: str) -> str | None:
        try:
            body = await self._call(
                account, "chat.getPermalink", {"channel": channel, "message_ts": ts}
            )
        except ProviderError:
            return None  # the message is out; a missing link must not turn that into a failure
        return str(body.get("permalink") or "") or None

    # -- HTTP --------------------------------------------------------------------------
    async def _call(
        self,
        account: AccountCredentials,
        method: str,
        params: dict[str, Any],
        *,
        join: str | None = None,
    ) -> dict[str, Any]:
        """Call ``method``; when ``join`` names a channel the bot is not in, join it and
        call once more."""
        response = await self._post(account, method, params)
        body = json_body(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("ok"):
            return body
        error = self._error(response, body, method)
        if join and error.code == "not_in_channel" and account.settings.get("auto_join", True):
            joined = await self._post(account, "conversations.join", {"channel": join})
            joined_body = json_body(joined)
            if (
                joined.status_code == 200
                and isinstance(joined_body, dict)
                and joined_body.get("ok")
            ):
                return await self._call(account, method, params)
            reason = (
                joined_body.get("error") if isinstance(joined_body, dict) else joined.status_code
            )
            error = ContentRejected(
                f"{error.message} (joining failed: {reason})",
                platform=PLATFORM,
                status=200,
                code="not_in_channel",
            )
        raise error

    async def _post(
        self, account: AccountCredentials, method: str, params: dict[str, Any]
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {account.access_token.reveal()}"}
        with transport_errors(PLATFORM):
            return await self.http.post(
                f"{self.api_url(account)}/{method}", data=params, headers=headers
            )

    def _error(self, response: httpx.Response, body: Any, method: str) -> ProviderError:
        """Slack's ``{ok: false, error}`` (or an HTTP failure) as our error tree."""
        status = response.status_code
        code = body.get("error") if isinstance(body, dict) else None
        detail = code or f"HTTP {status} {response.reason_phrase}".strip()
        message = f"{PLATFORM}: {method}: {detail}"
        kw: dict[str, Any] = {"platform": PLATFORM, "status": status, "code": code}
        if status == 429 or code == "ratelimited":
            return RateLimited(
                message,
                retry_after=retry_after_seconds(response.headers, now=self.clock.now()),
                **kw,
            )
        if code in UNCERTAIN and method in PUBLISHING:
            return OutcomeUnknown(f"{message} (the request may have partly succeeded)", **kw)
        if code in UNCERTAIN:
            return TransientError(message, **kw)
        if status >= 500 or code in TRANSIENT:
            return TransientError(message, **kw)
        if code == "token_expired":
            return AuthExpired(message, **kw)
        if code in AUTH_REVOKED:
            return AuthRevoked(message, **kw)
        if code in CONTENT_REJECTED:
            return ContentRejected(message, **kw)
        if method in FILE_METHODS and code:
            return MediaRejected(message, **kw)
        if status == 200 and code is None and method in PUBLISHING:
            # ok is missing or the body is unreadable: the message may exist.
            return OutcomeUnknown(f"{PLATFORM}: {method}: unreadable answer", **kw)
        if status == 200 and code is None:
            return TransientError(f"{PLATFORM}: {method}: unreadable answer", **kw)
        return ProviderError(message, **kw)
