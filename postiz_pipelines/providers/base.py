"""The Provider interface: one platform's publishing API behind one shape.

A provider declares its ``Capabilities`` as data (text limit and counting rule, media
limits, threads, token refresh, idempotency mode), validates content purely, and speaks
the platform's real HTTP API through an injected ``httpx.AsyncClient``. Every failure
leaves as a ``ProviderError`` subclass from ``errors.py``; httpx exceptions never escape.

The data types (``content.py``) and the shared validation (``validation.py``) are
re-exported here, so a provider module imports its whole vocabulary from one place.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

from postiz_pipelines.clock import Clock, SystemClock
from postiz_pipelines.errors import MediaRejected, OutcomeUnknown, Problem, TransientError
from postiz_pipelines.providers.content import (
    AccountCredentials,
    Capabilities,
    Engagement,
    IdempotencyMode,
    MediaFile,
    MediaLimits,
    PostContent,
    PublishResult,
    QuotaCost,
    RateLimit,
    RemotePost,
    TokenSet,
    count_or_none,
    engagement_of,
    reaction_total,
)
from postiz_pipelines.providers.validation import (
    media_file_problems,
    validate_against,
    validate_media,
)

# httpx logs every request URL at INFO, and some platforms put tokens in the URL (Telegram
# bot tokens, Discord webhook tokens, Meta refresh calls): never let that reach a log.
logging.getLogger("httpx").setLevel(logging.WARNING)

__all__ = [
    "media_file_problems",
    "AccountCredentials",
    "Capabilities",
    "Engagement",
    "IdempotencyMode",
    "MediaFile",
    "MediaLimits",
    "PostContent",
    "Provider",
    "PublishResult",
    "QuotaCost",
    "RateLimit",
    "RemotePost",
    "TokenSet",
    "count_or_none",
    "engagement_of",
    "reaction_total",
    "json_body",
    "json_object",
    "read_media",
    "redact_in_httpx_logs",
    "retry_after_seconds",
    "transport_errors",
    "upload_part",
    "validate_against",
    "validate_media",
]


class Provider(ABC):
    """One platform. Subclasses set ``capabilities`` and implement ``publish``.

    Providers whose platform exposes engagement counts set ``supports_engagement`` and
    implement ``engagement`` (read-only calls; the same errors as ``publish``).
    """

    capabilities: ClassVar[Capabilities]
    default_base_url: ClassVar[str] = ""
    supports_engagement: ClassVar[bool] = False
    # None only in a validation-only instance (creating a post checks every target), which
    # makes no call.
    http: httpx.AsyncClient

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        base_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.http: httpx.AsyncClient = http  # type: ignore[assignment]
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        # Reset headers are read against the caller's clock, the one retries are scheduled on.
        self.clock: Clock = clock or SystemClock()

    @property
    def platform(self) -> str:
        return self.capabilities.platform

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

    def media_limits(self, account: AccountCredentials | None = None) -> MediaLimits:
        """The media-preparation hook: the limits media for ``account`` is prepared to.

        The default is the platform's ``capabilities.media``; a provider whose limits
        depend on the account (a Mastodon instance's own) overrides it.
        """
        return self.capabilities.media

    def quota_cost(
        self, content: PostContent, *, reads_back: bool, publishes: bool
    ) -> QuotaCost | None:
        """What an attempt that reads back and/or publishes ``content`` spends of a daily
        budget shared by every run and worker; None (the default) for a platform without
        one. The engine reserves it before the attempt and defers the job when it does not
        fit (``core/publishing/quota.py``)."""
        return None

    def engagement_cost(self, posts: int) -> QuotaCost | None:
        """What reading the engagement of ``posts`` posts spends of the same daily budget as
        ``quota_cost``; None (the default) for a platform without one. The engagement pull
        reserves it in the shared ledger first and skips the account when it does not fit."""
        return None

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
        """A read-only look for a post we may have made (the engine's read-back).

        Called only when ``reads_back()`` is true, after an attempt whose outcome is unknown
        and before any further publish. Returns the post when it is live, None when the look
        succeeded and found nothing. A look that could not be made raises a
        ``ProviderError`` (never None): the engine then looks again later, and never
        publishes blind.
        """
        return None

    async def engagement(
        self, account: AccountCredentials, remote_ids: Sequence[str]
    ) -> list[Engagement]:
        """Engagement counts of the account's posts ``remote_ids``, one ``Engagement`` per id
        in the same order (``found=False`` for a post the platform no longer has)."""
        from postiz_pipelines.errors import ProviderError

        raise ProviderError(
            f"{self.platform} does not expose engagement counts", platform=self.platform
        )

    @classmethod
    def reads_back(cls) -> bool:
        """Whether this platform's ``find_recent`` really looks (the subclass implements it)."""
        return cls.find_recent is not Provider.find_recent


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


def read_media(platform: str, media: MediaFile) -> bytes:
    """The file's bytes; ``MediaRejected`` naming the file when it cannot be read (a file
    that vanished from disk will not come back by retrying)."""
    try:
        return media.path.read_bytes()
    except OSError as exc:
        raise MediaRejected(
            f"{platform}: cannot read media file {media.path.name} ({exc.strerror})",
            platform=platform,
        ) from None


def upload_part(platform: str, media: MediaFile) -> tuple[str, bytes, str]:
    """``(filename, bytes, mime type)``, a multipart file part for httpx ``files=``."""
    return media.path.name, read_media(platform, media), media.mime_type


def json_object(
    platform: str, response: httpx.Response, *, unreadable: type[TransientError] = TransientError
) -> dict[str, Any]:
    """The answer's JSON object; ``unreadable`` (by default ``TransientError``, for a call
    that may have taken effect ``OutcomeUnknown``) naming the status and content type when
    the body is empty, not JSON, or not an object."""
    body = json_body(response)
    if not isinstance(body, dict):
        ctype = response.headers.get("content-type", "no content type")
        raise unreadable(
            f"{platform}: unreadable answer (HTTP {response.status_code}, {ctype})",
            platform=platform,
            status=response.status_code,
        )
    return body


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
