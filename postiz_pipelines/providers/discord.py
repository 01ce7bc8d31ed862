"""Discord: messages in a channel, sent by a bot or through a webhook.

Two account shapes:

- **Bot** (the default): ``access_token`` is the bot token, ``external_id`` the channel
  id. Every message carries a ``nonce`` derived from the idempotency key (thread items
  ``{key}:{i}``) with ``enforce_nonce``, so a retry within Discord's nonce window returns
  the message already sent instead of posting twice. Thread items reply to the previous
  message.
- **Webhook**: ``settings["target"] == "webhook"``, ``external_id`` the webhook id and
  ``access_token`` its token, or ``access_token`` the whole webhook URL (its id and token
  are taken from it; the host is the provider's). Executed with ``?wait=true`` so that
  failures are reported. Webhooks take no nonce, so an uncertain outcome there is not
  retryable: a person decides.

Media go up in the same request (multipart ``payload_json`` + ``files[n]``, alt text as
the attachment description). ``settings["guild_id"]`` lets the result carry a link.
A 429's ``retry_after`` (float seconds, in the body) wins over the headers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from postiz_pipelines.clock import Clock
from postiz_pipelines.errors import (
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    OutcomeUnknown,
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
    count_or_none,
    json_body,
    reaction_total,
    redact_in_httpx_logs,
    retry_after_seconds,
    transport_errors,
    upload_part,
)
from postiz_pipelines.providers.text import characters

PLATFORM = "discord"
PRODUCTION_API = "https://discord.com"
API = "/api/v10"
NONCE_LENGTH = 25
_WEBHOOK_PATH_RE = re.compile(r"/webhooks/(\d+)/([^/?\s]+)")
PERMISSION_CODES = {50001, 50013}
MEDIA_CODES = {40005}
UNKNOWN_MESSAGE = 10008

CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=2000,
    text_unit="characters",
    count_text=characters,
    # Discord API reference, uploading files: 10 MiB per file by default, <=10 files.
    media=MediaLimits(
        max_items=10,
        image_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"}),
        video_types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
        max_image_bytes=10 * 1024 * 1024,
        max_video_bytes=10 * 1024 * 1024,
        max_videos=10,
        allow_mixed=True,
    ),
    supports_threads=True,
    supports_refresh=False,
    idempotency=IdempotencyMode.NATIVE_KEY,
    rate_limit=RateLimit(requests=5, per_seconds=5),
    # Discord checks an enforced nonce "in the past few minutes": trusted for two
    key_ttl=timedelta(minutes=2),
)


def nonce_for(idempotency_key: str) -> str:
    """A 25-character nonce, the same for the same key (Discord allows at most 25)."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:NONCE_LENGTH]


class DiscordProvider(Provider):
    """Publishes to a Discord channel; see the module docstring."""

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    default_base_url: ClassVar[str] = PRODUCTION_API
    supports_engagement: ClassVar[bool] = True

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        base_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(http, base_url=base_url, clock=clock)
        redact_in_httpx_logs(_WEBHOOK_PATH_RE, r"/webhooks/\1/<hidden>")

    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Send the message with its files, then each thread item (a reply, for a bot)."""
        webhook = _is_webhook(account)
        first = await self._send(account, content.text, content.media, None, idempotency_key)
        previous = str(first["id"])
        thread_ids: list[str] = []
        for i, text in enumerate(content.thread, start=1):
            reply_to = None if webhook else previous
            item = await self._send(account, text, (), reply_to, f"{idempotency_key}:{i}")
            previous = str(item["id"])
            thread_ids.append(previous)
        guild = account.settings.get("guild_id")
        channel = first.get("channel_id") or account.external_id
        url = f"https://discord.com/channels/{guild}/{channel}/{first['id']}" if guild else None
        return PublishResult(
            remote_id=str(first["id"]), url=url, thread_ids=tuple(thread_ids), http_status=200
        )

    async def engagement(
        self, account: AccountCredentials, remote_ids: Sequence[str]
    ) -> list[Engagement]:
        """Each message read back (a bot: ``GET /channels/{id}/messages/{id}``, which needs
        Read Message History; a webhook: ``GET /webhooks/{id}/{token}/messages/{id}``, its
        own messages only): every reaction counts as a like, the messages of a thread
        started from it as replies (Discord has neither reposts nor views). 404 ``10008
        Unknown Message`` is a deleted message."""
        url, headers = self._target(account)
        if not _is_webhook(account):
            url = f"{self.base_url_for(account)}{API}/channels/{account.external_id}"
        out = []
        for mid in remote_ids:
            with transport_errors(PLATFORM):
                response = await self.http.get(f"{url}/messages/{mid}", headers=headers)
            message = json_body(response)
            code = message.get("code") if isinstance(message, dict) else None
            if response.status_code == 404 and code == UNKNOWN_MESSAGE:
                out.append(Engagement(mid, found=False))
                continue
            if response.status_code != 200 or not isinstance(message, dict):
                raise self._error(response, webhook=_is_webhook(account))
            thread = message.get("thread")
            replies = count_or_none(thread.get("message_count")) if isinstance(thread, dict) else 0
            likes = reaction_total(message.get("reactions"))
            out.append(Engagement(mid, likes=likes, replies=replies or 0))
        return out

    # -- steps -------------------------------------------------------------------------
    async def _send(
        self,
        account: AccountCredentials,
        text: str,
        media: tuple[MediaFile, ...],
        reply_to: str | None,
        key: str,
    ) -> dict[str, Any]:
        webhook = _is_webhook(account)
        payload: dict[str, Any] = {"content": text}
        if not webhook:
            payload.update(nonce=nonce_for(key), enforce_nonce=True)
        if reply_to:
            payload["message_reference"] = {"message_id": reply_to, "fail_if_not_exists": False}
        files = {}
        if media:
            payload["attachments"] = [
                {
                    "id": i,
                    "filename": m.path.name,
                    **({"description": m.alt_text} if m.alt_text else {}),
                }
                for i, m in enumerate(media)
            ]
            files = {f"files[{i}]": upload_part(PLATFORM, m) for i, m in enumerate(media)}
        url, headers = self._target(account)
        request: dict[str, Any] = {"headers": headers}
        if webhook:
            request["params"] = {"wait": "true"}
        if files:
            request.update(data={"payload_json": json.dumps(payload)}, files=files)
        else:
            request["json"] = payload
        try:
            with transport_errors(PLATFORM):
                response = await self.http.post(url, **request)
        except OutcomeUnknown as exc:
            if webhook:  # no nonce: retrying could post twice
                raise OutcomeUnknown(
                    f"{exc.message}; a webhook has no nonce, so it is not retried",
                    platform=PLATFORM,
                    retryable=False,
                ) from exc.__cause__
            raise
        if response.status_code != 200:
            raise self._error(response, webhook=webhook)
        message = json_body(response)
        if not isinstance(message, dict) or not message.get("id"):
            # A 200 means the message exists; without its body we cannot say which it is.
            raise OutcomeUnknown(
                f"{PLATFORM}: message sent but the answer was unreadable",
                platform=PLATFORM,
                status=200,
                retryable=not webhook,
            )
        return message

    def _target(self, account: AccountCredentials) -> tuple[str, dict[str, str]]:
        base = self.base_url_for(account)
        token = account.access_token.reveal()
        if not _is_webhook(account):
            return f"{base}{API}/channels/{account.external_id}/messages", {
                "Authorization": f"Bot {token}"
            }
        match = _WEBHOOK_PATH_RE.search(urlsplit(token).path) if token.startswith("http") else None
        webhook_id, webhook_token = (match[1], match[2]) if match else (account.external_id, token)
        return f"{base}{API}/webhooks/{webhook_id}/{webhook_token}", {}

    def _error(self, response: httpx.Response, *, webhook: bool) -> ProviderError:
        """The error of a failed call, from Discord's ``{message, code, errors}``."""
        status = response.status_code
        body = json_body(response)
        body = body if isinstance(body, dict) else {}
        code = body.get("code")
        detail = str(body.get("message") or f"HTTP {status} {response.reason_phrase}")
        if body.get("errors"):
            detail = f"{detail}: {_first_field_error(body['errors'])}"
        message = f"{PLATFORM}: {detail}"
        kw: dict[str, Any] = {"platform": PLATFORM, "status": status, "code": code}
        if status == 429:
            retry = body.get("retry_after")
            seconds = (
                float(retry)
                if isinstance(retry, int | float)
                else retry_after_seconds(response.headers, now=self.clock.now())
            )
            return RateLimited(message, retry_after=seconds, **kw)
        if status >= 500:
            return TransientError(message, **kw)
        if status == 401 or code == 10015 or code in PERMISSION_CODES:
            return AuthRevoked(message, **kw)
        if status == 413 or code in MEDIA_CODES or "attachments" in (body.get("errors") or {}):
            return MediaRejected(message, **kw)
        if status in (400, 403, 404):
            return ContentRejected(message, **kw)
        if status == 204:
            return TransientError(f"{message} (answered 204 without the message)", **kw)
        if 200 <= status < 300:
            return TransientError(f"{message} (unexpected answer)", **kw)
        return ProviderError(message, **kw)


def _is_webhook(account: AccountCredentials) -> bool:
    return account.settings.get("target") == "webhook"


def _first_field_error(errors: Any, path: str = "") -> str:
    """``content: Must be 2000 or fewer in length.`` from Discord's nested ``errors``."""
    if isinstance(errors, dict):
        if isinstance(errors.get("_errors"), list) and errors["_errors"]:
            return f"{path or 'body'}: {errors['_errors'][0].get('message', '')}"
        for key, value in errors.items():
            found = _first_field_error(value, f"{path}.{key}" if path else str(key))
            if found:
                return found
    return ""
