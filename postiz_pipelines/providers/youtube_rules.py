"""YouTube's rules as pure functions: the video's metadata at creation, the engine's tag,
and the mapping of Google's error reasons to the error tree."""

from __future__ import annotations

import hashlib
from datetime import datetime
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
    AccountCredentials,
    PostContent,
    json_body,
    retry_after_seconds,
)
from postiz_pipelines.providers.youtube_upload import QuotaLedger, next_quota_reset

PLATFORM = "youtube"
TITLE_MAX = 100
TAGS_MAX = 500
SHORTS_MAX_SECONDS = 180
DAILY_QUOTA = 10_000
COSTS = {"insert": 1600, "thumbnail": 50, "list": 1}
CATEGORIES = frozenset(
    {"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"}
)
PRIVACY = ("private", "unlisted", "public")
CONTENT_REASONS = frozenset(
    {
        "invalidTitle",
        "invalidDescription",
        "invalidTags",
        "invalidCategoryId",
        "invalidPublishAt",
        "invalidVideoMetadata",
    }
)


def marker_tag(idempotency_key: str) -> str:
    """The tag that lets a lookup recognise the video a job uploaded."""
    return "pz" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]


def tags_length(tags: list[str]) -> int:
    """YouTube's count of tags: joined by commas, a tag with a space inside quotes."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)


def tag_list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    return [str(t).strip() for t in (value or []) if str(t).strip()]


def video_title(content: PostContent) -> str:
    title = content.settings.get("title")
    if title is None:
        title = content.text.strip().split("\n", 1)[0]
    return str(title).strip()


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes")


def metadata_problems(
    content: PostContent, account: AccountCredentials | None, now: datetime
) -> list[Problem]:
    """YouTube's own rules beyond the shared checks: one video (and at most one thumbnail),
    title, description, tags, category, privacy (private only for an unaudited project),
    publish time and Shorts."""
    p = PLATFORM
    problems: list[Problem] = []
    videos = [m for m in content.media if m.kind == "video"]
    if content.media and not videos:
        problems.append(Problem(f"{p}.media", "YouTube needs a video", 0, 1))
    if len(content.media) - len(videos) > 1:
        problems.append(Problem(f"{p}.media", "at most one image (the thumbnail)", None, 1))
    title = video_title(content)
    if not title:
        problems.append(Problem(f"{p}.title", "a title is required", 0, 1))
    elif len(title) > TITLE_MAX:
        problems.append(
            Problem(
                f"{p}.title",
                f"title is {len(title)} characters, limit {TITLE_MAX}",
                len(title),
                TITLE_MAX,
            )
        )
    for name, value in (("title", title), ("text", content.text)):
        if "<" in value or ">" in value:
            problems.append(Problem(f"{p}.{name}", f"YouTube refuses < and > in the {name}"))
    all_tags = tag_list(content.settings.get("tags")) + ["pz" + "0" * 12]
    if (n := tags_length(all_tags)) > TAGS_MAX:
        problems.append(
            Problem(
                f"{p}.tags",
                f"tags are {n} characters together (with the engine's "
                f"14-character tag), limit {TAGS_MAX}",
                n,
                TAGS_MAX,
            )
        )
    category = str(content.settings.get("category_id") or "22")
    if category not in CATEGORIES:
        problems.append(
            Problem(
                f"{p}.category_id",
                f"{category!r} is not an assignable category",
                category,
                ", ".join(sorted(CATEGORIES, key=int)),
            )
        )
    problems += privacy_problems(content, account, now)
    if truthy(content.settings.get("shorts")):
        for i, v in enumerate(content.media):
            if v.kind != "video":
                continue
            if v.duration_ms is not None and v.duration_ms / 1000 > SHORTS_MAX_SECONDS:
                problems.append(
                    Problem(
                        f"{p}.media[{i}]",
                        f"a Short is at most {SHORTS_MAX_SECONDS} s",
                        v.duration_ms / 1000,
                        SHORTS_MAX_SECONDS,
                    )
                )
            if v.width and v.height and v.width > v.height:
                problems.append(
                    Problem(
                        f"{p}.media[{i}]",
                        "a Short is vertical or square",
                        f"{v.width}x{v.height}",
                    )
                )
    return problems


def privacy_problems(
    content: PostContent, account: AccountCredentials | None, now: datetime
) -> list[Problem]:
    """``privacy_status`` and ``publish_at`` against YouTube's rules and the audit status."""
    p = PLATFORM
    out = []
    privacy = str(content.settings.get("privacy_status") or "private")
    audited = bool(account and truthy(account.settings.get("audited")))
    if privacy not in PRIVACY:
        out.append(
            Problem(
                f"{p}.privacy_status",
                "must be private, unlisted or public",
                privacy,
                ", ".join(PRIVACY),
            )
        )
    elif privacy != "private" and not audited:
        out.append(
            Problem(
                f"{p}.privacy_status",
                "this account's API project is not audited by Google, and YouTube keeps "
                "every upload of an unaudited project private; use private, or have the "
                "project audited and mark the account audited",
                privacy,
                "private",
            )
        )
    publish_at = content.settings.get("publish_at")
    if publish_at:
        when = instant(publish_at)
        if when is None:
            out.append(
                Problem(f"{p}.publish_at", "not an ISO 8601 time with an offset", str(publish_at))
            )
        elif when <= now:
            out.append(Problem(f"{p}.publish_at", "must be in the future", str(publish_at)))
        if privacy != "private":
            out.append(
                Problem(
                    f"{p}.publish_at",
                    "YouTube schedules private videos only",
                    privacy,
                    "private",
                )
            )
    return out


# -- publishing --------------------------------------------------------------------


def youtube_error(
    response: httpx.Response, *, now: datetime, quota: QuotaLedger, media: bool = False
) -> ProviderError:
    """Google's error body mapped to the tree (see the module docstring)."""
    status = response.status_code
    body = json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    first = (error.get("errors") or [{}])[0] or {}
    reason = str(first.get("reason") or "")
    message = f"{PLATFORM}: {error.get('message') or f'HTTP {status}'}"
    kw: dict[str, Any] = {"platform": PLATFORM, "status": status, "code": reason or None}
    if reason in ("quotaExceeded", "dailyLimitExceeded"):
        quota.exhausted(now)
        return RateLimited(
            f"{message} (the project's daily quota; it renews at midnight Pacific time)",
            retry_after=(next_quota_reset(now) - now).total_seconds(),
            scope="platform",
            **kw,
        )
    if reason == "uploadLimitExceeded":
        return RateLimited(
            f"{message} (the channel's upload cap; trying again in a day)",
            retry_after=86400.0,
            **kw,
        )
    if status == 429 or reason in ("rateLimitExceeded", "userRateLimitExceeded"):
        retry = retry_after_seconds(response.headers, now=now)
        return RateLimited(message, retry_after=60.0 if retry is None else retry, **kw)
    if status >= 500:
        return TransientError(message, **kw)
    if status == 401:
        return AuthExpired(message, **kw)
    if status == 403 and reason in (
        "forbidden",
        "insufficientPermissions",
        "youtubeSignupRequired",
    ):
        return AuthRevoked(
            f"{message} (the account lacks the permission; reconnect it with the "
            "youtube.upload scope on a channel that may upload)",
            **kw,
        )
    if reason in CONTENT_REASONS:
        return ContentRejected(message, **kw)
    if media and 400 <= status < 500:
        return MediaRejected(message, **kw)
    return ProviderError(message, **kw)


def instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else None
