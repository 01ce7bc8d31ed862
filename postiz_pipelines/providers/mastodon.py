"""Mastodon: statuses with media, threads by ``in_reply_to_id``, on any instance.

The account's ``base_url`` is its instance. Media goes up through ``POST /api/v2/media``
and, when the instance answers 202 (video, GIF), is polled on ``GET /api/v1/media/:id``
until it is processed. Every status carries an ``Idempotency-Key`` (thread items
``{key}:{i}``), which the instance honours for an hour, so a retry after an uncertain
outcome cannot post twice. Tokens never expire; a 401 or 403 means reconnecting.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar

import httpx

from postiz_pipelines.clock import Clock, ensure_utc
from postiz_pipelines.errors import (
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    OutcomeUnknown,
    Problem,
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
    RemotePost,
    count_or_none,
    json_body,
    json_object,
    read_media,
    retry_after_seconds,
    transport_errors,
    validate_against,
)
from postiz_pipelines.providers.readback import parse_time, same_text
from postiz_pipelines.providers.text import mastodon_length

PLATFORM = "mastodon"
VISIBILITIES = frozenset({"public", "unlisted", "private", "direct"})
DESCRIPTION_LIMIT = 1500
VIDEO_MATRIX_LIMIT = 8_294_400
STATUS_LIMIT_KEYS = ("max_characters", "max_media_attachments", "characters_reserved_per_url")
MEDIA_LIMIT_KEYS = (
    "supported_mime_types",
    "description_limit",
    "image_size_limit",
    "image_matrix_limit",
    "video_size_limit",
    "video_matrix_limit",
)
# Which call failed decides the error class of a 404/422: media, a status, or a read.
MEDIA_ENDPOINT = "media"
STATUS_ENDPOINT = "status"
READ_ENDPOINT = "read"

CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=500,
    text_unit="graphemes",
    count_text=mastodon_length,
    # Mastodon's defaults (GET /api/v2/instance configuration.media_attachments): images
    # 16 MiB and 33,177,600 px, videos 103,809,024 bytes and 8,294,400 px; instances may
    # say otherwise, read per account by ``media_limits``.
    media=MediaLimits(
        max_items=4,
        image_types=frozenset(
            f"image/{t}" for t in ("jpeg", "png", "gif", "webp", "heic", "heif", "avif")
        ),
        video_types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
        max_image_bytes=16 * 1024 * 1024,
        max_video_bytes=103_809_024,
        max_image_pixels=33_177_600,
        max_videos=1,
        allow_mixed=False,
    ),
    supports_threads=True,
    supports_refresh=False,
    idempotency=IdempotencyMode.NATIVE_KEY,
    rate_limit=RateLimit(requests=300, per_seconds=300),
    key_ttl=timedelta(minutes=50),  # Mastodon keeps an Idempotency-Key for an hour
)


def instance_limits(instance: Mapping[str, Any]) -> dict[str, Any]:
    """The limits of a ``/api/v2/instance`` document, flat, as kept in
    ``account.settings["instance"]`` (``max_characters``, ``image_size_limit``...)."""
    config = instance.get("configuration") or {}
    statuses = config.get("statuses") or {}
    media = config.get("media_attachments") or {}
    out = {k: statuses[k] for k in STATUS_LIMIT_KEYS if k in statuses}
    out.update({k: media[k] for k in MEDIA_LIMIT_KEYS if k in media})
    return out


class MastodonProvider(Provider):
    """Publishes to a Mastodon instance; see the module docstring.

    ``poll_interval`` seconds pass between media-processing polls, at most ``max_polls``
    times; ``clock`` reads rate-limit reset instants against the same "now" as the caller.
    """

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    supports_engagement: ClassVar[bool] = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str | None = None,
        poll_interval: float = 1.0,
        max_polls: int = 120,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(http, base_url=base_url, clock=clock)
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    # -- limits and validation (pure) --------------------------------------------------
    def text_limit(self, account: AccountCredentials | None) -> int:
        """The instance's ``max_characters`` when known, else Mastodon's default 500."""
        value = _instance(account).get("max_characters")
        return int(value) if value else self.capabilities.text_limit

    def capabilities_for(self, account: AccountCredentials | None) -> Capabilities:
        """The capabilities with the account's own instance limits applied."""
        inst = _instance(account)
        caps = self.capabilities
        media = caps.media
        if types := inst.get("supported_mime_types"):
            media = replace(
                media,
                image_types=frozenset(t for t in types if t.startswith("image/")),
                video_types=frozenset(t for t in types if t.startswith("video/")),
            )
        media = replace(
            media,
            max_items=int(inst.get("max_media_attachments", media.max_items)),
            max_image_bytes=int(inst.get("image_size_limit", media.max_image_bytes)),
            max_video_bytes=int(inst.get("video_size_limit", media.max_video_bytes)),
            max_image_pixels=int(inst.get("image_matrix_limit", media.max_image_pixels or 0))
            or None,
        )
        url_length = int(inst.get("characters_reserved_per_url", 23))
        count = (
            mastodon_length if url_length == 23 else partial(mastodon_length, url_length=url_length)
        )
        return replace(caps, text_limit=self.text_limit(account), count_text=count, media=media)

    def media_limits(self, account: AccountCredentials | None = None) -> MediaLimits:
        """The instance's own media limits when known (media is prepared to them), with the
        video pixel limit that ``validate`` checks on its own."""
        pixels = int(_instance(account).get("video_matrix_limit", VIDEO_MATRIX_LIMIT))
        return replace(self.capabilities_for(account).media, max_video_pixels=pixels)

    def validate(
        self, content: PostContent, account: AccountCredentials | None = None
    ) -> list[Problem]:
        """The shared checks against the instance's limits, plus Mastodon's own: the content
        warning counts toward the text limit, alt text length, video pixels, visibility."""
        caps = self.capabilities_for(account)
        problems = validate_against(caps, content, caps.text_limit)
        spoiler = str(content.settings.get("spoiler_text") or "")
        if spoiler:
            # Mastodon counts the warning and the text apart and adds them up.
            total = caps.count_text(spoiler) + caps.count_text(content.text)
            if total > caps.text_limit:
                problems.append(
                    Problem(
                        f"{PLATFORM}.spoiler_text",
                        f"content warning and text are {total} {caps.text_unit}, "
                        f"limit {caps.text_limit}",
                        total,
                        caps.text_limit,
                    )
                )
        visibility = content.settings.get("visibility", "public")
        if visibility not in VISIBILITIES:
            allowed = ", ".join(sorted(VISIBILITIES))
            problems.append(
                Problem(f"{PLATFORM}.visibility", f"must be one of {allowed}", visibility, allowed)
            )
        inst = _instance(account)
        alt_limit = int(inst.get("description_limit", DESCRIPTION_LIMIT))
        video_pixels = int(inst.get("video_matrix_limit", VIDEO_MATRIX_LIMIT))
        for i, media in enumerate(content.media):
            field = f"{PLATFORM}.media[{i}]"
            if len(media.alt_text) > alt_limit:
                n = len(media.alt_text)
                problems.append(
                    Problem(
                        f"{field}.alt_text",
                        f"alt text is {n} characters, limit {alt_limit}",
                        n,
                        alt_limit,
                    )
                )
            if media.kind == "video" and media.width and media.height:
                pixels = media.width * media.height
                if pixels > video_pixels:
                    problems.append(
                        Problem(
                            field, f"{pixels} pixels, limit {video_pixels}", pixels, video_pixels
                        )
                    )
        return problems

    # -- platform calls ----------------------------------------------------------------
    async def fetch_instance(self, account: AccountCredentials) -> dict[str, Any]:
        """The instance's ``/api/v2/instance`` document (see ``instance_limits``)."""
        response = await self._send("GET", account, "/api/v2/instance", auth=False)
        return self._expect_object(response, READ_ENDPOINT)

    async def read_limits(self, account: AccountCredentials) -> dict[str, Any]:
        """The account's instance's limits, read from ``GET /api/v2/instance``, in the shape
        validation reads from ``account.settings["instance"]`` (see ``instance_limits``).
        Read when the account connects and daily after; an unreadable document raises."""
        limits = instance_limits(await self.fetch_instance(account))
        if not isinstance(limits.get("max_characters"), int):
            raise TransientError(
                f"{PLATFORM}: the instance document names no max_characters",
                platform=PLATFORM,
                status=200,
            )
        return limits

    async def verify_credentials(self, account: AccountCredentials) -> dict[str, Any]:
        """The account the token belongs to; raises ``AuthRevoked`` when it is unusable."""
        response = await self._send("GET", account, "/api/v1/accounts/verify_credentials")
        return self._expect_object(response, READ_ENDPOINT)

    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Upload the media, post the status, then each thread item as a reply to the last."""
        media_ids = [await self._upload(account, media) for media in content.media]
        first = await self._post_status(
            account, content, content.text, media_ids, None, idempotency_key
        )
        previous = str(first["id"])
        thread_ids: list[str] = []
        for i, text in enumerate(content.thread, start=1):
            item = await self._post_status(
                account, content, text, [], previous, f"{idempotency_key}:{i}"
            )
            previous = str(item["id"])
            thread_ids.append(previous)
        return PublishResult(
            remote_id=str(first["id"]),
            url=first.get("url"),
            thread_ids=tuple(thread_ids),
            http_status=200,
        )

    async def find_recent(
        self, account: AccountCredentials, *, since: datetime, text: str, idempotency_key: str
    ) -> RemotePost | None:
        """The account's newest status since ``since`` whose text is ``text``, if any."""
        account_id = account.external_id or str((await self.verify_credentials(account))["id"])
        since = ensure_utc(since)
        max_id: str | None = None
        for _ in range(5):  # 200 statuses back is far more than one retry window
            params = {"limit": "40", **({"max_id": max_id} if max_id else {})}
            response = await self._send(
                "GET", account, f"/api/v1/accounts/{account_id}/statuses", params=params
            )
            statuses = json_body(response)
            if response.status_code != 200:
                raise self._error(response, READ_ENDPOINT)
            if not isinstance(statuses, list):
                raise TransientError(
                    f"{PLATFORM}: unreadable list of statuses", platform=PLATFORM, status=200
                )
            statuses = [s for s in statuses if isinstance(s, dict) and s.get("id")]
            if not statuses:
                return None
            for status in statuses:
                created = parse_time(status.get("created_at"))
                if created is not None and created < since:
                    return None
                if same_text(_html_to_text(status.get("content") or ""), text):
                    return RemotePost(str(status["id"]), status.get("url"), text, created)
            max_id = str(statuses[-1]["id"])
        return None

    async def engagement(
        self, account: AccountCredentials, remote_ids: Sequence[str]
    ) -> list[Engagement]:
        """Each status's ``favourites_count``, ``reblogs_count`` and ``replies_count``
        (``GET /api/v1/statuses/:id``; Mastodon exposes no views); a 404 is a deleted post."""
        out = []
        for remote_id in remote_ids:
            response = await self._send("GET", account, f"/api/v1/statuses/{remote_id}")
            if response.status_code == 404:
                out.append(Engagement(remote_id, found=False))
                continue
            status = self._expect_object(response, READ_ENDPOINT)
            out.append(
                Engagement(
                    remote_id,
                    likes=count_or_none(status.get("favourites_count")),
                    reposts=count_or_none(status.get("reblogs_count")),
                    replies=count_or_none(status.get("replies_count")),
                )
            )
        return out

    # -- steps -------------------------------------------------------------------------
    async def _upload(self, account: AccountCredentials, media: MediaFile) -> str:
        data = read_media(PLATFORM, media)
        fields = {"description": media.alt_text} if media.alt_text else {}
        response = await self._send(
            "POST",
            account,
            "/api/v2/media",
            files={"file": (media.path.name, data, media.mime_type)},
            data=fields,
        )
        if response.status_code not in (200, 202):
            raise self._error(response, MEDIA_ENDPOINT)
        body = self._expect_object(response, MEDIA_ENDPOINT)
        media_id = str(body.get("id") or "")
        if not media_id:
            raise TransientError(
                f"{PLATFORM}: media upload answered without an id",
                platform=PLATFORM,
                status=response.status_code,
            )
        if response.status_code == 202 or body.get("url") is None:
            await self._wait_processed(account, media_id)
        return media_id

    async def _wait_processed(self, account: AccountCredentials, media_id: str) -> None:
        for _ in range(self.max_polls):
            await asyncio.sleep(self.poll_interval)
            response = await self._send("GET", account, f"/api/v1/media/{media_id}")
            if response.status_code == 200:
                return
            if response.status_code != 206:
                raise self._error(response, MEDIA_ENDPOINT)
        raise TransientError(
            f"{PLATFORM}: media {media_id} still processing after {self.max_polls} polls",
            platform=PLATFORM,
            status=206,
        )

    async def _post_status(
        self,
        account: AccountCredentials,
        content: PostContent,
        text: str,
        media_ids: list[str],
        reply_to: str | None,
        key: str,
    ) -> dict[str, Any]:
        settings = content.settings
        body: dict[str, Any] = {
            "status": text,
            "visibility": settings.get("visibility", "public"),
        }
        if media_ids:
            body["media_ids"] = media_ids
        if reply_to:
            body["in_reply_to_id"] = reply_to
        for name in ("sensitive", "spoiler_text", "language"):
            if settings.get(name):
                body[name] = settings[name]
        response = await self._send(
            "POST", account, "/api/v1/statuses", json=body, headers={"Idempotency-Key": key}
        )
        if response.status_code != 200:
            raise self._error(response, STATUS_ENDPOINT)
        status = json_body(response)
        if not isinstance(status, dict) or not status.get("id"):
            # A 200 means the status exists; without its body we cannot say which it is.
            raise OutcomeUnknown(
                f"{PLATFORM}: status accepted but the answer was unreadable",
                platform=PLATFORM,
                status=response.status_code,
            )
        return status

    # -- HTTP --------------------------------------------------------------------------
    async def _send(
        self,
        method: str,
        account: AccountCredentials,
        path: str,
        *,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        base = self.base_url_for(account)
        if not base:
            raise ProviderError(
                f"{PLATFORM}: account {account.account_id} has no instance URL",
                platform=PLATFORM,
            )
        all_headers = dict(headers or {})
        if auth:
            all_headers["Authorization"] = f"Bearer {account.access_token.reveal()}"
        with transport_errors(PLATFORM):
            return await self.http.request(method, base + path, headers=all_headers, **kwargs)

    def _expect_object(self, response: httpx.Response, endpoint: str) -> dict[str, Any]:
        if response.status_code not in (200, 202, 206):
            raise self._error(response, endpoint)
        return json_object(PLATFORM, response)

    def _error(self, response: httpx.Response, endpoint: str) -> ProviderError:
        """The error of a failed call, from its status and Mastodon's ``{"error": ...}``."""
        status = response.status_code
        body = json_body(response)
        detail = body.get("error") if isinstance(body, dict) else None
        reason = str(detail) if detail else f"HTTP {status} {response.reason_phrase}".strip()
        message = f"{PLATFORM}: {reason}"
        kw: dict[str, Any] = {"platform": PLATFORM, "status": status}
        if status == 429:
            retry = retry_after_seconds(response.headers, now=self.clock.now())
            return RateLimited(message, retry_after=retry, **kw)
        if status >= 500:
            return TransientError(message, **kw)
        if status in (401, 403):
            return AuthRevoked(message, **kw)
        if status == 422 and "not finished processing" in reason:
            return TransientError(message, **kw)
        if endpoint == MEDIA_ENDPOINT and status in (404, 413, 415, 422):
            return MediaRejected(message, **kw)
        if endpoint == STATUS_ENDPOINT and status in (404, 422):
            return ContentRejected(message, **kw)
        if 200 <= status < 300:
            return TransientError(f"{message} (unexpected answer)", **kw)
        return ProviderError(message, **kw)


def _instance(account: AccountCredentials | None) -> Mapping[str, Any]:
    if account is None:
        return {}
    value = account.settings.get("instance")
    return value if isinstance(value, Mapping) else {}


_BREAK_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PARAGRAPH_RE = re.compile(r"</p>\s*<p[^>]*>", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^>]+>")


def _html_to_text(content: str) -> str:
    """Mastodon's rendered HTML back to plain text (links keep their full text)."""
    text = _PARAGRAPH_RE.sub("\n\n", content)
    text = _BREAK_RE.sub("\n", text)
    return html.unescape(_TAG_RE.sub("", text))
