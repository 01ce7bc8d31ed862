"""Reddit's rules as pure functions: the target's subreddit and title, a subreddit's post
requirements, and the JSON error arrays of a submission."""

from __future__ import annotations

import re
from typing import Any

from postiz_pipelines.errors import (
    AuthRevoked,
    ContentRejected,
    Problem,
    ProviderError,
    RateLimited,
)
from postiz_pipelines.providers.base import AccountCredentials, PostContent

PLATFORM = "reddit"
TITLE_MAX = 300
WAIT_RE = re.compile(r"(\d+)\s*(second|minute|hour)", re.I)
AUTH_CODES = frozenset({"USER_REQUIRED", "INVALID_USER"})


def subreddit_of(content: PostContent, account: AccountCredentials | None = None) -> str:
    """The target's ``subreddit`` setting, else the account's default; ``r/`` dropped."""
    name = str(content.settings.get("subreddit") or "").strip()
    if not name and account is not None:
        name = str(account.settings.get("subreddit") or "").strip()
    return re.sub(r"^/?r/", "", name)


def title_of(content: PostContent) -> str:
    title = content.settings.get("title")
    if title is None:
        title = content.text.strip().split("\n", 1)[0]
    return str(title).strip()


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes")


def rule_problems(rules: dict[str, Any], content: PostContent) -> list[Problem]:
    """Why a subreddit's requirements (post_requirements plus ``flairs``) refuse the post."""
    p = PLATFORM
    out = []
    title = title_of(content)
    low, high = (
        int(rules.get("title_text_min_length") or 1),
        int(rules.get("title_text_max_length") or TITLE_MAX),
    )
    if not low <= len(title) <= high:
        out.append(
            Problem(
                f"{p}.title",
                f"title is {len(title)} characters; this subreddit takes {low} to {high}",
                len(title),
                high,
            )
        )
    kind = post_kind(content)
    if (
        kind == "self"
        and rules.get("body_restriction_policy") == "notAllowed"
        and content.text.strip()
    ):
        out.append(Problem(f"{p}.text", "this subreddit takes no post body"))
    if (
        kind == "self"
        and rules.get("body_restriction_policy") == "required"
        and not content.text.strip()
    ):
        out.append(Problem(f"{p}.text", "this subreddit needs a post body"))
    flairs = {
        str(f.get("id")): str(f.get("text"))
        for f in rules.get("flairs") or []
        if isinstance(f, dict)
    }
    flair = content.settings.get("flair_id")
    if rules.get("is_flair_required") and not flair:
        listed = ", ".join(f"{i} ({t})" for i, t in flairs.items())
        out.append(Problem(f"{p}.flair_id", f"this subreddit needs a flair: {listed}"))
    elif flair and flairs and str(flair) not in flairs:
        out.append(
            Problem(
                f"{p}.flair_id", "not one of the subreddit's flairs", str(flair), ", ".join(flairs)
            )
        )
    return out


def post_kind(content: PostContent) -> str:
    if content.media:
        return "image"
    return "link" if content.settings.get("url") else "self"


def submit_error(entry: Any) -> ProviderError:
    """The error one ``json.errors`` entry ``[CODE, message, field]`` of a submission names."""
    code, message = (
        (str(entry[0]), str(entry[1]))
        if isinstance(entry, list) and len(entry) >= 2
        else ("", str(entry))
    )
    kw: dict[str, Any] = {"platform": PLATFORM, "status": 200, "code": code or None}
    text = f"{PLATFORM}: {code}: {message}"
    if code == "RATELIMIT":
        match = WAIT_RE.search(message)
        unit = {"second": 1, "minute": 60, "hour": 3600}[match[2].lower()] if match else 60
        return RateLimited(text, retry_after=float(int(match[1]) * unit) if match else 600.0, **kw)
    if code in AUTH_CODES:
        return AuthRevoked(text, **kw)
    return ContentRejected(text, **kw)
