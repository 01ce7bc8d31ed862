"""What the Reddit emulator remembers beyond ``SandboxState`` (its subreddits and their
rules, the per-user posting rate, leased media uploads) and the listing shape of a post."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from postiz_pipelines.sandbox.state import AcceptedPost, SandboxState
from postiz_pipelines.sandbox.world import world

PLATFORM = "reddit"
TITLE_MAX = 300


@dataclass
class Subreddit:
    name: str
    kinds: frozenset[str] = frozenset({"self", "link", "image"})
    flair_required: bool = False
    flairs: tuple[tuple[str, str], ...] = ()  # (id, text)
    title_min: int = 1
    title_max: int = TITLE_MAX
    body_policy: str = "none"  # post_requirements' body_restriction_policy


@dataclass
class RedditWorld:
    subreddits: dict[str, Subreddit] = field(
        default_factory=lambda: {
            "test": Subreddit("test", flairs=(("f-news", "News"),)),
            "pics": Subreddit("pics", kinds=frozenset({"image"})),
            "AskReddit": Subreddit(
                "AskReddit",
                kinds=frozenset({"self"}),
                flair_required=True,
                flairs=(("f-q", "Question"), ("f-d", "Discussion")),
                title_min=10,
            ),
        }
    )
    posts_per_hour: int = 10
    uploads: dict[str, str] = field(default_factory=dict)  # asset id -> account id
    uploaded: set[str] = field(default_factory=set)


def reddit_world(state: SandboxState) -> RedditWorld:
    return world(state, PLATFORM, RedditWorld)


def thing(post: AcceptedPost) -> dict[str, Any]:
    e = post.extra
    return {
        "id": post.remote_id[3:],
        "name": post.remote_id,
        "title": e["title"],
        "selftext": post.text,
        "url": e["url"],
        "subreddit": e["sr"],
        "permalink": e["permalink"],
        "created_utc": post.created_at.timestamp(),
        "over_18": e["nsfw"],
        "spoiler": e["spoiler"],
        "link_flair_template_id": e["flair_id"],
    }


def truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:50] or "post"
