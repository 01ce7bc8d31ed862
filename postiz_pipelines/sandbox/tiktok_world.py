"""What the TikTok emulator remembers beyond ``SandboxState``: each creator's settings
(``creator_info``), the app's audit status and caps, and every publish with its upload and
processing state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from postiz_pipelines.sandbox.state import SandboxState
from postiz_pipelines.sandbox.world import world

PLATFORM = "tiktok"
ALL_PRIVACY = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")


@dataclass
class Creator:
    """A creator's posting settings, as ``creator_info/query`` reports them."""

    privacy_level_options: tuple[str, ...] = ALL_PRIVACY
    comment_disabled: bool = False
    duet_disabled: bool = False
    stitch_disabled: bool = False
    max_video_post_duration_sec: int = 600
    private_account: bool = True


@dataclass
class Publish:
    """One ``publish_id``: how its bytes arrive and how far TikTok has got with it."""

    account_id: str
    media_type: str  # VIDEO | PHOTO
    source: str  # FILE_UPLOAD | PULL_FROM_URL
    post_info: dict[str, Any]
    created_at: datetime
    size: int = 0
    chunk_size: int = 0
    total_chunks: int = 0
    received: int = 0  # bytes
    chunks: int = 0
    urls: tuple[str, ...] = ()
    polls_left: int = 2  # status fetches still answered "processing" once the bytes are in
    status: str = "PROCESSING_UPLOAD"
    fail_reason: str = ""
    post_id: str | None = None


@dataclass
class TikTokWorld:
    audited: bool = False
    creators: dict[str, Creator] = field(default_factory=dict)  # account id -> settings
    publishes: dict[str, Publish] = field(default_factory=dict)
    posting_users_cap: int = 5  # unaudited apps: distinct posting users per 24 h
    posts_per_day: int = 15  # per creator
    verified_url_prefixes: tuple[str, ...] | None = None  # None: every URL is verified
    processing_polls: int = 2
    fail_next: str = ""  # the fail_reason of the next publish's processing

    def creator(self, account_id: str) -> Creator:
        return self.creators.setdefault(account_id, Creator())


def tiktok_world(state: SandboxState) -> TikTokWorld:
    return world(state, PLATFORM, TikTokWorld)
