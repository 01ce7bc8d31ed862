"""TikTok's rules as data and pure functions: chunking, the creator's settings, the
mapping of TikTok's ``error.code`` values to the error tree, and a video's counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from postiz_pipelines.errors import (
    AuthExpired,
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    Problem,
    ProviderError,
    RateLimited,
    TransientError,
)
from postiz_pipelines.providers.base import (
    Engagement,
    MediaFile,
    PostContent,
    engagement_of,
    json_body,
    retry_after_seconds,
)

PLATFORM = "tiktok"
MB = 1024 * 1024
SINGLE_CHUNK_MAX = 5 * MB
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
PHOTO_TITLE_MAX = 90
PHOTO_DESCRIPTION_MAX = 4000
DAY = 86400.0
VIDEO_COUNTS = {
    "likes": "like_count",
    "reposts": "share_count",
    "replies": "comment_count",
    "views": "view_count",
}
# error.code -> how it is mapped (permanent content or media problems, waits, reconnects)
RATE_CODES = {
    "rate_limit_exceeded": 60.0,
    "spam_risk_too_many_posts": DAY,
    "spam_risk_too_many_pending_share": 3600.0,
    "spam_risk_user_banned_from_posting": DAY,
    "reached_active_user_cap": DAY,
}
AUTH_CODES = frozenset({"scope_not_authorized", "scope_permission_missed", "access_token_revoked"})
MEDIA_CODES = frozenset(
    {
        "url_ownership_unverified",
        "file_format_check_failed",
        "video_pull_failed",
        "photo_pull_failed",
        "picture_size_check_failed",
        "duration_check_failed",
        "frame_rate_check_failed",
        "video_format_check_failed",
    }
)


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes")


def chunk_plan(size: int, chunk_size: int) -> tuple[int, int]:
    """(chunk size, chunk count) by TikTok's rules: one chunk under 5 MB; else chunks of
    ``chunk_size`` and a last one with the remainder."""
    if size < SINGLE_CHUNK_MAX:
        return size, 1
    chunk = min(max(chunk_size, 5 * MB), 64 * MB, size)
    return chunk, size // chunk


def tiktok_error(response: httpx.Response, now: datetime) -> ProviderError:
    """The error of a failed call, from its status and TikTok's ``error.code``."""
    status = response.status_code
    body = json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code") or "")
    message = f"{PLATFORM}: {error.get('message') or f'HTTP {status}'}"
    kw: dict[str, Any] = {"platform": PLATFORM, "status": status, "code": code or None}
    if code in RATE_CODES or status == 429:
        wait = retry_after_seconds(response.headers, now=now)
        return RateLimited(
            message, retry_after=wait if wait is not None else RATE_CODES.get(code, 60.0), **kw
        )
    if status >= 500 or code == "internal_error":
        return TransientError(message, **kw)
    if code == "access_token_invalid" or status == 401:
        return AuthExpired(message, **kw)
    if code in AUTH_CODES:
        return AuthRevoked(message, **kw)
    if code == "unaudited_client_can_only_post_to_private_accounts":
        return ContentRejected(
            f"{message} (make the TikTok account private and post SELF_ONLY, "
            "or get the app audited)",
            **kw,
        )
    if code in MEDIA_CODES or code.endswith("_check_failed"):
        return MediaRejected(message, **kw)
    if 400 <= status < 500:
        return ContentRejected(message, **kw)
    return TransientError(f"{message} (unexpected answer)", **kw)


def creator_problems(info: dict[str, Any], content: PostContent, privacy: str) -> list[Problem]:
    """Why the creator cannot use these settings (``creator_info``), empty when they can."""
    p = PLATFORM
    out = []
    options = [str(o) for o in info.get("privacy_level_options") or []]
    if options and privacy not in options:
        out.append(
            Problem(
                f"{p}.privacy_level",
                "the creator cannot post with this privacy level",
                privacy,
                ", ".join(options),
            )
        )
    photo = any(m.kind == "image" for m in content.media)
    switches = [("allow_comments", "comment_disabled", "comments")]
    if not photo:
        switches += [
            ("allow_duet", "duet_disabled", "duets"),
            ("allow_stitch", "stitch_disabled", "stitches"),
        ]
    for setting, flag, what in switches:
        if truthy(content.settings.get(setting)) and info.get(flag):
            out.append(
                Problem(f"{p}.{setting}", f"the creator turned {what} off in TikTok", True, False)
            )
    longest = info.get("max_video_post_duration_sec")
    for i, m in enumerate(content.media):
        if (
            m.kind == "video"
            and longest
            and m.duration_ms is not None
            and m.duration_ms / 1000 > float(longest)
        ):
            out.append(
                Problem(
                    f"{p}.media[{i}]",
                    f"video is {m.duration_ms / 1000:g} s, this creator's limit {longest} s",
                    m.duration_ms / 1000,
                    longest,
                )
            )
    return out


def instant(value: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def pulled_url(media: MediaFile) -> str:
    """The signed public link TikTok pulls ``media`` from (known only when publishing)."""
    if not media.public_url:
        raise MediaRejected(
            f"{PLATFORM}: TikTok pulls {media.path.name} from a public link, and none is "
            "configured; set POSTIZ_PUBLIC_URL (on a domain verified with TikTok)",
            platform=PLATFORM,
            code="no_public_url",
        )
    return media.public_url


def video_engagement(remote_id: str, found: dict[str, dict[str, Any]]) -> Engagement:
    """One post's counts from ``video/query``'s videos by id: likes, shares (reposts),
    comments (replies) and views; no counts for a ``publish_id`` (no public video id to
    ask about), not found for a video id left out of the answer."""
    if not remote_id.isdigit():
        return Engagement(remote_id)
    return engagement_of(remote_id, found.get(remote_id), VIDEO_COUNTS)
