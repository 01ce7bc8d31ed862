"""The Provider interface: one platform's publishing API behind one shape.

A provider declares its ``Capabilities`` as data (text limit and counting rule, media
limits, threads, token refresh, idempotency mode), validates content purely, and speaks
the platform's real HTTP API through an injected ``httpx.AsyncClient``. Every failure
leaves as a ``ProviderError`` subclass from ``errors.py``; httpx exceptions never escape.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import httpx

from postiz_pipelines.clock import Clock, SystemClock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import OutcomeUnknown, Problem, TransientError

# httpx logs every request URL at INFO, and some platforms put tokens in the URL (Telegram
# bot tokens, Discord webhook tokens, Meta refresh calls): never let that reach a log.
logging.getLogger("httpx").setLevel(logging.WARNING)


class IdempotencyMode(StrEnum):
    """How an uncertain outcome can be resolved on this platform (DESIGN: never post twice)."""

    NATIVE_KEY = "native_key"  # the platform deduplicates on a key we send (Mastodon)
    DETERMINISTIC_ID = "deterministic_id"  # we choose the record id (Bluesky rkey)
    LOOKUP = "lookup"  # a read-only look at recent posts tells whether it landed
    # the platform's id of the submission is saved (``PostContent.save_progress``) before
    # waiting on it: a try that died after saving resumes by that id, never submits again;
    # one that died before saving has an outcome nobody can check (as ``NONE``)
    STORED_ID = "stored_id"
    NONE = "none"  # nothing: an uncertain outcome needs a person


@dataclass(frozen=True)
class RateLimit:
    """A platform's default budget: ``requests`` per ``per_seconds`` per account."""

    requests: int
    per_seconds: float


@dataclass(frozen=True)
class MediaLimits:
    max_items: int = 4
    image_types: frozenset[str] = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
    video_types: frozenset[str] = frozenset({"video/mp4", "video/quicktime"})
    max_image_bytes: int = 5 * 1024 * 1024
    max_gif_bytes: int | None = None
    max_video_bytes: int = 512 * 1024 * 1024
    max_image_pixels: int | None = None
    min_aspect_ratio: float | None = None  # width / height
    max_aspect_ratio: float | None = None
    min_video_seconds: float | None = None
    max_video_seconds: float | None = None
    max_videos: int = 1
    allow_mixed: bool = False  # images and a video in one post
    requires_media: bool = False
    requires_public_url: bool = False  # the platform fetches media from a URL (Meta)


@dataclass(frozen=True)
class Capabilities:
    platform: str
    text_limit: int
    text_unit: str  # e.g. "characters", "weighted characters", "graphemes", "UTF-8 bytes"
    count_text: Callable[[str], int]
    media: MediaLimits
    supports_threads: bool
    supports_refresh: bool
    idempotency: IdempotencyMode
    rate_limit: RateLimit
    caption_limit: int | None = None  # when media changes the text limit (Telegram)


@dataclass(frozen=True)
class MediaFile:
    """A media file ready to upload: bytes on local disk plus what we know of it."""

    path: Path
    mime_type: str
    kind: str  # "image" | "video"
    size_bytes: int
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    alt_text: str = ""
    public_url: str | None = None  # for platforms that pull media by URL

    @property
    def is_gif(self) -> bool:
        return self.mime_type == "image/gif"


ProgressSink = Callable[[Mapping[str, Any]], Awaitable[None]]


async def _forget_progress(progress: Mapping[str, Any]) -> None:
    """The sink of content published outside the engine: nothing is kept."""


@dataclass(frozen=True)
class PostContent:
    """What to publish to one account: the text, its media, and optional thread replies.

    ``progress`` is what an earlier try of the same job saved through ``save_progress``
    (a TikTok publish id, a YouTube upload session): a provider that finds it there resumes
    instead of submitting again. ``save_progress`` merges its argument into the job's
    progress (a key given as None is forgotten: the platform said nothing was published)
    and returns once it is committed, so a process killed right after still leaves it for
    the next try.
    """

    text: str
    media: tuple[MediaFile, ...] = ()
    thread: tuple[str, ...] = ()  # follow-up items, published as replies in order
    settings: Mapping[str, Any] = field(default_factory=dict)
    progress: Mapping[str, Any] = field(default_factory=dict)
    save_progress: ProgressSink = field(default=_forget_progress, compare=False, repr=False)


@dataclass
class AccountCredentials:
    """One connected account as a provider needs it; tokens are ``Secret`` and never printed."""

    account_id: str
    platform: str
    handle: str
    external_id: str
    access_token: Secret
    refresh_token: Secret | None = None
    token_expires_at: datetime | None = None
    base_url: str | None = None  # e.g. the Mastodon instance, or a sandbox override
    settings: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"AccountCredentials(account_id={self.account_id!r}, platform={self.platform!r}, "
            f"handle={self.handle!r})"
        )


@dataclass(frozen=True)
class TokenSet:
    access_token: Secret
    refresh_token: Secret | None = None
    expires_at: datetime | None = None

    def __repr__(self) -> str:
        return f"TokenSet(expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class PublishResult:
    remote_id: str
    url: str | None = None
    thread_ids: tuple[str, ...] = ()  # ids of the follow-up items, in order
    http_status: int | None = None
    # what the platform told us changed about the account, for the engine to store
    # (a Telegram group that became a supergroup has a new chat id: {"external_id": ...})
    account_updates: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RemotePost:
    remote_id: str
    url: str | None
    text: str
    created_at: datetime | None = None


class Provider(ABC):
    """One platform. Subclasses set ``capabilities`` and implement ``publish``."""

    capabilities: ClassVar[Capabilities]
    default_base_url: ClassVar[str] = ""

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        base_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        # ``http`` may be None for validation-only use (creating a post checks every target).
        self.http = http  # type: ignore[assignment]
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        # Reset headers are read against the caller's clock, the one retries are scheduled on.
        self.clock: Clock = clock or SystemClock()

    @property
    def platform(self) -> str:
        return self.capabilities.platform

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client; a validation-only provider (built without one) has none."""
        if self.http is None:
            raise RuntimeError(f"{self.platform}: this provider was built for validation only")
        return self.http

    def base_url_for(self, account: AccountCredentials) -> str:
        """The account's own base URL (a Mastodon instance) wins over the provider's."""
        return (account.base_url or self.base_url).rstrip("/")

    # -- validation (pure) -------------------------------------------------------------
    def validate(
        self, content: PostContent, account: AccountCredentials | None = None
    ) -> list[Problem]:
        """Every reason this content cannot be published here; empty when it can."""
        return validate_against(self.capabilities, content, self.text_limit(account))

    def text_limit(self, account: AccountCredentials | None) -> int:
        return self.capabilities.text_limit

    # -- platform calls ----------------------------------------------------------------
    @abstractmethod
    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Publish ``content`` (uploading media first); raise a ``ProviderError`` on failure."""

    async def refresh(self, account: AccountCredentials) -> TokenSet:
        """Exchange the refresh token for new tokens. Platforms without refresh raise."""
        from postiz_pipelines.errors import AuthRevoked

        raise AuthRevoked(
            f"{self.platform} tokens cannot be refreshed; reconnect the account",
            platform=self.platform,
        )

    async def find_recent(
        self, account: AccountCredentials, *, since: datetime, text: str, idempotency_key: str
    ) -> RemotePost | None:
        """A read-only look for a post we may have made; None when not found or not possible."""
        return None


def validate_against(caps: Capabilities, content: PostContent, text_limit: int) -> list[Problem]:
    """Check text length (by the platform's counting rule) and media against ``caps``."""
    p = caps.platform
    problems: list[Problem] = []
    limit = caps.caption_limit if (content.media and caps.caption_limit) else text_limit
    items = [("text", content.text)] + [
        (f"thread[{i}]", t) for i, t in enumerate(content.thread, start=1)
    ]
    if content.thread and not caps.supports_threads:
        problems.append(
            Problem(f"{p}.thread", f"{p} does not support threads", len(content.thread), 0)
        )
    for name, text in items:
        n = caps.count_text(text)
        if n > limit:
            problems.append(
                Problem(f"{p}.{name}", f"{name} is {n} {caps.text_unit}, limit {limit}", n, limit)
            )
    if not content.text.strip() and not content.media:
        problems.append(Problem(f"{p}.text", "text is empty and there is no media", 0, 1))
    problems.extend(validate_media(caps, content.media))
    return problems


def validate_media(caps: Capabilities, media: tuple[MediaFile, ...]) -> list[Problem]:
    p = caps.platform
    lim = caps.media
    problems: list[Problem] = []
    if lim.requires_media and not media:
        problems.append(Problem(f"{p}.media", f"{p} needs at least one image or video", 0, 1))
    if len(media) > lim.max_items:
        problems.append(
            Problem(
                f"{p}.media",
                f"{len(media)} media items, limit {lim.max_items}",
                len(media),
                lim.max_items,
            )
        )
    videos = [m for m in media if m.kind == "video"]
    if len(videos) > lim.max_videos:
        problems.append(
            Problem(
                f"{p}.media",
                f"{len(videos)} videos, limit {lim.max_videos}",
                len(videos),
                lim.max_videos,
            )
        )
    if videos and len(media) > len(videos) and not lim.allow_mixed:
        problems.append(Problem(f"{p}.media", "images and video cannot be mixed in one post"))
    for i, m in enumerate(media):
        f = f"{p}.media[{i}]"
        allowed = lim.video_types if m.kind == "video" else lim.image_types
        if m.mime_type not in allowed:
            problems.append(
                Problem(
                    f,
                    f"type {m.mime_type} not accepted, allowed: {', '.join(sorted(allowed))}",
                    m.mime_type,
                )
            )
        if m.kind == "video":
            max_bytes = lim.max_video_bytes
        elif m.is_gif and lim.max_gif_bytes:
            max_bytes = lim.max_gif_bytes
        else:
            max_bytes = lim.max_image_bytes
        if m.size_bytes > max_bytes:
            problems.append(
                Problem(f, f"{m.size_bytes} bytes, limit {max_bytes}", m.size_bytes, max_bytes)
            )
        if m.width and m.height:
            if (
                lim.max_image_pixels
                and m.kind == "image"
                and m.width * m.height > lim.max_image_pixels
            ):
                px = m.width * m.height
                problems.append(
                    Problem(
                        f, f"{px} pixels, limit {lim.max_image_pixels}", px, lim.max_image_pixels
                    )
                )
            ratio = m.width / m.height
            if lim.min_aspect_ratio and ratio < lim.min_aspect_ratio - 1e-9:
                problems.append(
                    Problem(
                        f,
                        f"aspect ratio {ratio:.3f}, minimum {lim.min_aspect_ratio:.3f}",
                        round(ratio, 3),
                        lim.min_aspect_ratio,
                    )
                )
            if lim.max_aspect_ratio and ratio > lim.max_aspect_ratio + 1e-9:
                problems.append(
                    Problem(
                        f,
                        f"aspect ratio {ratio:.3f}, maximum {lim.max_aspect_ratio:.3f}",
                        round(ratio, 3),
                        lim.max_aspect_ratio,
                    )
                )
        if m.kind == "video" and m.duration_ms is not None:
            secs = m.duration_ms / 1000
            if lim.max_video_seconds and secs > lim.max_video_seconds:
                problems.append(
                    Problem(
                        f,
                        f"video is {secs:g} s, limit {lim.max_video_seconds:g} s",
                        secs,
                        lim.max_video_seconds,
                    )
                )
            if lim.min_video_seconds and secs < lim.min_video_seconds:
                problems.append(
                    Problem(
                        f,
                        f"video is {secs:g} s, minimum {lim.min_video_seconds:g} s",
                        secs,
                        lim.min_video_seconds,
                    )
                )
    return problems


# -- helpers shared by provider modules ------------------------------------------------


class _RedactUrls(logging.Filter):
    """Rewrites a secret part of request URLs in httpx's log lines."""

    def __init__(self, pattern: re.Pattern[str], replacement: str) -> None:
        super().__init__()
        self.pattern = pattern
        self.replacement = replacement

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.pattern.search(message):
            record.msg = self.pattern.sub(self.replacement, message)
            record.args = ()
        return True


def redact_in_httpx_logs(pattern: re.Pattern[str], replacement: str) -> None:
    """Hide what ``pattern`` matches in httpx's request logs (tokens in URL paths), even
    for an operator who turns httpx's logger up to INFO or DEBUG. Idempotent."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactUrls) and f.pattern == pattern for f in logger.filters):
        logger.addFilter(_RedactUrls(pattern, replacement))


@contextmanager
def transport_errors(platform: str) -> Iterator[None]:
    """Translate httpx transport failures into our tree, once, at the boundary.

    A failure before the request was sent (connect errors) is a plain ``TransientError``;
    one after it may have reached the platform (read timeouts, dropped connections) is
    ``OutcomeUnknown``, which the engine resolves by the provider's idempotency mode.
    """
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise TransientError(
            f"{platform}: could not connect ({type(exc).__name__})", platform=platform
        ) from exc
    except (
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.RemoteProtocolError,
        httpx.ReadError,
    ) as exc:
        raise OutcomeUnknown(
            f"{platform}: no answer after sending ({type(exc).__name__})", platform=platform
        ) from exc
    except httpx.HTTPError as exc:
        raise TransientError(
            f"{platform}: HTTP error ({type(exc).__name__})", platform=platform
        ) from exc


def json_body(response: httpx.Response) -> Any:
    """The response's JSON, or None for an empty or non-JSON body (HTML error pages)."""
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or HTTP date) or a reset header.

    Reset headers are read as epoch seconds (X, Bluesky), ISO 8601 (Mastodon), or a number
    of seconds when small (Discord ``X-RateLimit-Reset-After``, Reddit).
    """
    now = now or datetime.now(UTC)
    h = {k.lower(): v for k, v in headers.items()}
    if (value := h.get("retry-after")) is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
            except (TypeError, ValueError):
                pass
    if (value := h.get("x-ratelimit-reset-after")) is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    for name in ("x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"):
        if (value := h.get(name)) is None:
            continue
        try:
            number = float(value)
        except ValueError:
            try:
                when = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return max(0.0, (when - now).total_seconds())
            except ValueError:
                continue
        if number > 1_000_000_000:  # an epoch timestamp
            return max(0.0, number - now.timestamp())
        return max(0.0, number)
    return None
