"""What the YouTube emulator remembers beyond ``SandboxState``: the project's quota spent
per Pacific day, uploads per channel and day, resumable upload sessions and thumbnails;
and the shapes shared by its modules (channel ids, the video resource)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from postiz_pipelines.sandbox.state import AcceptedPost, SandboxAccount, SandboxState
from postiz_pipelines.sandbox.world import world

PLATFORM = "youtube"
PACIFIC = ZoneInfo("America/Los_Angeles")
DAILY_UNITS = 10_000
COSTS = {"insert": 1600, "thumbnail": 50, "list": 1}
ACCESS_SECONDS = 3600
THUMBNAIL_MAX_BYTES = 2 * 1024 * 1024
THUMBNAIL_TYPES = ("image/jpeg", "image/png")


@dataclass
class UploadSession:
    """One resumable upload: the bytes kept so far, and the video once it is whole."""

    account_id: str
    size: int
    content_type: str
    metadata: dict[str, Any]
    created_at: datetime
    received: bytearray = field(default_factory=bytearray)
    resent_bytes: int = 0  # bytes a client sent again that were already kept
    chunks: int = 0
    video_id: str | None = None


@dataclass
class YouTubeWorld:
    daily_units: int = DAILY_UNITS
    uploads_per_day: int = 50
    audited: bool = False
    thumbnails_allowed: bool = True  # a channel must be verified to set custom thumbnails
    forbidden: set[str] = field(default_factory=set)  # channels that may not upload
    spent: dict[str, int] = field(default_factory=dict)  # Pacific date -> units
    uploads: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, date) -> n
    sessions: dict[str, UploadSession] = field(default_factory=dict)
    thumbnails: dict[str, int] = field(default_factory=dict)  # video id -> bytes


def youtube_world(state: SandboxState) -> YouTubeWorld:
    return world(state, PLATFORM, YouTubeWorld)


def channel_id(account: SandboxAccount) -> str:
    raw = hashlib.sha256(f"channel:{account.id}".encode()).digest()
    return "UC" + base64.urlsafe_b64encode(raw).decode()[:22]


def pacific_day(now: datetime) -> str:
    return now.astimezone(PACIFIC).date().isoformat()


def video_resource(post: AcceptedPost) -> dict[str, Any]:
    e = post.extra
    status: dict[str, Any] = {
        "uploadStatus": "uploaded",
        "privacyStatus": e["privacyStatus"],
        "selfDeclaredMadeForKids": e["madeForKids"],
    }
    if e.get("publishAt"):
        status["publishAt"] = e["publishAt"]
    return {
        "kind": "youtube#video",
        "id": post.remote_id,
        "snippet": {
            "publishedAt": iso(post.created_at),
            "channelId": e["channelId"],
            "title": e["title"],
            "description": post.text,
            "tags": list(e["tags"]),
            "categoryId": e["categoryId"],
        },
        "status": status,
    }


def statistics(counts: dict[str, int]) -> dict[str, str]:
    """A video's ``statistics`` part: counts as decimal strings, as Google sends them
    (``favoriteCount`` is always 0 since favourites were retired)."""
    return {
        "viewCount": str(counts["views"]),
        "likeCount": str(counts["likes"]),
        "favoriteCount": "0",
        "commentCount": str(counts["replies"]),
    }


def iso(when: datetime) -> str:
    return when.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_pacific_midnight(now: datetime) -> datetime:
    local = now.astimezone(PACIFIC)
    return datetime(local.year, local.month, local.day, tzinfo=PACIFIC) + timedelta(days=1)
