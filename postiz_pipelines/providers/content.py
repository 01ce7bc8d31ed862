"""The data a provider declares and receives: its capabilities and limits, the content and
media of one post, an account's credentials, and what a platform answers.

Plain frozen dataclasses (credentials excepted: the engine updates refreshed tokens), shared
by the providers, their validation and the core, which builds them from its rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from postiz_pipelines.crypto import Secret


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
class QuotaCost:
    """Units one attempt will spend of a budget the whole app shares per platform day
    (YouTube's per-project quota): ``budget`` units a day, the day read in ``zone``."""

    units: int
    budget: int
    zone: str = "UTC"


@dataclass(frozen=True)
class MediaLimits:
    """What a platform takes in one post, as data (each provider cites its source).

    Media preparation (``core.media``) reads these to make a variant of every file the
    platform can take: oriented, resized, recompressed, converted or transcoded until each
    limit holds; ``validate_media`` then checks the variant. None means "no stated limit".
    """

    max_items: int = 4
    image_types: frozenset[str] = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
    video_types: frozenset[str] = frozenset({"video/mp4", "video/quicktime"})
    max_image_bytes: int = 5 * 1024 * 1024
    max_gif_bytes: int | None = None
    max_video_bytes: int = 512 * 1024 * 1024
    max_image_pixels: int | None = None
    min_aspect_ratio: float | None = None  # images: width / height
    max_aspect_ratio: float | None = None
    min_video_aspect: float | None = None  # videos: width / height
    max_video_aspect: float | None = None
    min_video_seconds: float | None = None
    max_video_seconds: float | None = None
    max_videos: int = 1
    allow_mixed: bool = False  # images and a video in one post
    requires_media: bool = False
    requires_public_url: bool = False  # the platform fetches media from a URL (Meta)
    # the platform takes media by URL when we can give a signed link, else inline (Pinterest)
    fetches_by_url: bool = False
    # dimensions, in pixels after EXIF orientation; images larger are scaled down
    max_image_width: int | None = None
    max_image_height: int | None = None
    max_image_side_sum: int | None = None  # width + height (Telegram photos)
    max_image_ratio: float | None = None  # longer side / shorter side (Telegram photos)
    min_image_width: int | None = None  # smaller images are scaled up
    # videos: what the platform decodes; anything else is transcoded to H.264/AAC MP4
    video_codecs: frozenset[str] = frozenset({"h264"})
    audio_codecs: frozenset[str] = frozenset({"aac"})
    max_video_width: int | None = None
    max_video_height: int | None = None
    max_video_pixels: int | None = None  # width x height (Mastodon's video matrix)
    max_video_fps: float | None = None
    min_video_fps: float | None = None
    max_video_bitrate: int | None = None  # bits per second
    min_video_bytes: int | None = None


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
    # how long a native idempotency key is remembered by the platform (Discord's nonce for
    # "a few minutes", Mastodon's Idempotency-Key for an hour); past it, a repeat with the
    # same key may post again, so the engine reads back first or leaves it to a person
    key_ttl: timedelta | None = None


@dataclass(frozen=True)
class MediaFile:
    """A media file ready to upload: bytes on local disk plus what we know of it.

    When it comes from media preparation it is the platform's variant: within the limits,
    without location or device metadata. ``None`` fields are unknown.
    """

    path: Path
    mime_type: str
    kind: str  # "image" | "video"
    size_bytes: int
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    alt_text: str = ""
    public_url: str | None = None  # for platforms that pull media by URL
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    bit_rate: int | None = None
    animated: bool = False

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
    # BCP-47: the account's own language, else its workspace's (the core fills it in)
    language: str | None = None

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


@dataclass(frozen=True)
class Engagement:
    """What a platform says people did with one post, as far as it exposes it (None: not
    exposed). ``found`` is False when the platform no longer has the post (deleted)."""

    remote_id: str
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    views: int | None = None  # views or impressions
    found: bool = True


def count_or_none(value: Any) -> int | None:
    """A platform's count as an int; None for a missing or unreadable one."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def engagement_of(
    remote_id: str, data: Mapping[str, Any] | None, fields: Mapping[str, str]
) -> Engagement:
    """A post's counts from the platform's answer about it: ``fields`` maps our metric
    (likes, reposts, replies, views) to the platform's key (the others stay None); a post
    the answer does not have (``data`` None) is ``found=False``."""
    if data is None:
        return Engagement(remote_id, found=False)

    def count(metric: str) -> int | None:
        key = fields.get(metric)
        return None if key is None else count_or_none(data.get(key))

    return Engagement(remote_id, count("likes"), count("reposts"), count("replies"), count("views"))


def reaction_total(reactions: Any) -> int:
    """The sum of the ``count`` of each reaction a chat platform lists on a message (Slack,
    Discord); 0 when it lists none, as both do for a message without reactions."""
    if not isinstance(reactions, list):
        return 0
    return sum(count_or_none(r.get("count")) or 0 for r in reactions if isinstance(r, dict))
