"""The text matcher of the never-post-twice read-back, shared by every provider that looks
at an account's recent posts (``find_recent``) to tell whether an uncertain call landed.

Platforms hand text back reflowed: Mastodon renders paragraphs as HTML, Graph trims
trailing newlines, editors turn tabs into spaces. So two texts are the same post when they
are equal after folding every run of white space into one space; nothing else is ignored
(case, punctuation and emoji all count), because a looser match could take someone else's
wording for ours.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from postiz_pipelines.clock import ensure_utc


def normalise_text(text: str) -> str:
    """``text`` with white space folded: runs become one space, ends are trimmed."""
    return " ".join(text.split())


def same_text(found: str, wanted: str) -> bool:
    """Whether a post read back (``found``) carries the text we sent (``wanted``)."""
    return normalise_text(found) == normalise_text(wanted)


def parse_time(value: Any) -> datetime | None:
    """A platform's timestamp (ISO 8601 with ``Z``, ``+00:00`` or Graph's ``+0000``) as an
    aware UTC datetime; None for anything else, so an odd date never stops a read-back."""
    if not isinstance(value, str):
        return None
    try:
        return ensure_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None
