"""Mastodon's entities as its API renders them (instance, account, media attachment,
status), and the instance's default limits, for the Mastodon emulator."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from postiz_pipelines.sandbox.state import AcceptedPost, SandboxAccount, StoredMedia

MAX_CHARACTERS = 500
MAX_MEDIA_ATTACHMENTS = 4
CHARACTERS_RESERVED_PER_URL = 23
DESCRIPTION_LIMIT = 1500
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024
IMAGE_MATRIX_LIMIT = 33_177_600
VIDEO_SIZE_LIMIT = 103_809_024
VIDEO_MATRIX_LIMIT = 8_294_400
IMAGE_TYPES = tuple(f"image/{t}" for t in ("jpeg", "png", "gif", "heic", "heif", "webp", "avif"))
VIDEO_TYPES = ("video/webm", "video/mp4", "video/quicktime", "video/ogg")
AUDIO_TYPES = tuple(
    f"audio/{t}" for t in ("wave", "wav", "x-wav", "mpeg", "mp3", "ogg", "flac", "aac", "mp4")
)


def iso(value: datetime) -> str:
    """A timestamp as Mastodon writes it: UTC, milliseconds, ``Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def needs_processing(mime_type: str) -> bool:
    """GIFs (turned into gifv), video and audio are transcoded after the upload answers."""
    return mime_type not in IMAGE_TYPES or mime_type == "image/gif"


def html_content(text: str) -> str:
    """Plain text as Mastodon renders it: paragraphs on blank lines, ``<br />`` inside."""
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(
        "<p>" + "<br />".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def instance_json(
    domain: str,
    *,
    max_characters: int = MAX_CHARACTERS,
    max_media_attachments: int = MAX_MEDIA_ATTACHMENTS,
    characters_reserved_per_url: int = CHARACTERS_RESERVED_PER_URL,
) -> dict[str, Any]:
    """``GET /api/v2/instance`` of an instance with these status limits (defaults: Mastodon's)."""
    return {
        "domain": domain,
        "title": "Mastodon sandbox",
        "version": "4.3.0",
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "A local emulator of a Mastodon instance.",
        "usage": {"users": {"active_month": 0}},
        "languages": ["en"],
        "configuration": {
            "urls": {"streaming": f"wss://{domain}"},
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
            "statuses": {
                "max_characters": max_characters,
                "max_media_attachments": max_media_attachments,
                "characters_reserved_per_url": characters_reserved_per_url,
            },
            "media_attachments": {
                "supported_mime_types": [*IMAGE_TYPES, *VIDEO_TYPES, *AUDIO_TYPES],
                "description_limit": DESCRIPTION_LIMIT,
                "image_size_limit": IMAGE_SIZE_LIMIT,
                "image_matrix_limit": IMAGE_MATRIX_LIMIT,
                "video_size_limit": VIDEO_SIZE_LIMIT,
                "video_frame_rate_limit": 120,
                "video_matrix_limit": VIDEO_MATRIX_LIMIT,
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2_629_746,
            },
            "translation": {"enabled": False},
        },
        "registrations": {"enabled": False, "approval_required": False},
        "contact": {"email": "", "account": None},
        "rules": [],
    }


def account_json(
    base: str, account: SandboxAccount, statuses_count: int, last_status_at: datetime | None
) -> dict[str, Any]:
    """An Account; ``base`` is the instance URL."""
    return {
        "id": account.id,
        "username": account.username,
        "acct": account.username,
        "display_name": account.display_name,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "group": False,
        "created_at": iso(account.created_at),
        "note": "",
        "url": f"{base}/@{account.username}",
        "uri": f"{base}/users/{account.username}",
        "avatar": f"{base}/avatars/original/missing.png",
        "header": f"{base}/headers/original/missing.png",
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": statuses_count,
        "last_status_at": last_status_at.date().isoformat() if last_status_at else None,
        "emojis": [],
        "fields": [],
    }


def media_json(base: str, media: StoredMedia) -> dict[str, Any]:
    """A MediaAttachment; ``url`` stays null while it is processing."""
    kind = "gifv" if media.mime_type == "image/gif" else media.mime_type.split("/")[0]
    kind = kind if kind in {"image", "video", "gifv", "audio"} else "unknown"
    url = f"{base}/system/media_attachments/files/{media.id}/original"
    meta: dict[str, Any] = {}
    if media.width and media.height:
        meta["original"] = {
            "width": media.width,
            "height": media.height,
            "size": f"{media.width}x{media.height}",
            "aspect": media.width / media.height,
        }
    if media.focus is not None:
        meta["focus"] = {"x": media.focus[0], "y": media.focus[1]}
    return {
        "id": media.id,
        "type": kind,
        "url": url if media.ready else None,
        "preview_url": f"{url}/small" if media.ready else None,
        "remote_url": None,
        "text_url": None,
        "meta": meta,
        "description": media.description or None,
        "blurhash": None,
    }


def status_json(
    base: str, post: AcceptedPost, author: dict[str, Any], parent: AcceptedPost | None
) -> dict[str, Any]:
    """A Status; ``author`` is the rendered account, ``parent`` the post it replies to."""
    return {
        "id": post.remote_id,
        "created_at": iso(post.created_at),
        "in_reply_to_id": post.reply_to,
        "in_reply_to_account_id": parent.account_id if parent else None,
        "sensitive": bool(post.extra.get("sensitive")),
        "spoiler_text": post.extra.get("spoiler_text", ""),
        "visibility": post.extra.get("visibility", "public"),
        "language": post.extra.get("language"),
        "uri": f"{author['uri']}/statuses/{post.remote_id}",
        "url": f"{author['url']}/{post.remote_id}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "edited_at": None,
        "content": html_content(post.text),
        "reblog": None,
        "application": {"name": "postiz_pipelines", "website": None},
        "account": author,
        "media_attachments": [media_json(base, m) for m in post.media],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": None,
        "poll": None,
    }
