"""Text counting rules of the platforms, each a pure function of the text.

- graphemes: user-perceived characters (``regex`` ``\\X``), as Bluesky and Mastodon count.
- Mastodon: every URL counts ``characters_reserved_per_url`` (23); ``@user@domain``
  mentions count only ``@user``; then graphemes.
- X: twitter-text's v3 weighted length (``twitter-text-parser``).
- Threads: UTF-8 bytes for emoji, characters otherwise (the docs' rule).
"""

from __future__ import annotations

import regex

# A URL starts after a character that cannot end a word or a mention (twitter-text's
# valid_url_preceding_chars), so "yhttps://..." is not a URL.
URL_RE = regex.compile(
    r"(?<![A-Za-z0-9@＠$#＃\u202A-\u202E])https?://[^\s<>\"]+[^\s<>\"\.,;:!?\)\]'\}]",
    regex.IGNORECASE,
)
MASTODON_MENTION_RE = regex.compile(r"(?<![\w/])@(\w+)@[\w.-]+\w", regex.UNICODE)
EMOJI_RE = regex.compile(r"\p{Extended_Pictographic}")
GRAPHEME_RE = regex.compile(r"\X")


def graphemes(text: str) -> int:
    return len(GRAPHEME_RE.findall(text))


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def mastodon_length(text: str, url_length: int = 23) -> int:
    text = URL_RE.sub("x" * url_length, text)
    text = MASTODON_MENTION_RE.sub(lambda m: "@" + m.group(1), text)
    return graphemes(text)


def x_weighted_length(text: str) -> int:
    """X's weighted length, by twitter-text's v3 rules (``twitter-text-parser``): URLs as 23,
    emoji sequences as 2, CJK and most other scripts as 2, Latin and punctuation as 1."""
    from twitter_text import parse_tweet

    return int(parse_tweet(text).weightedLength)


def threads_length(text: str) -> int:
    """Characters, except that an emoji counts as its UTF-8 byte length (Threads' rule)."""
    total = 0
    for cluster in GRAPHEME_RE.findall(text):
        total += utf8_bytes(cluster) if EMOJI_RE.search(cluster) else len(cluster)
    return total


def characters(text: str) -> int:
    """Unicode code points (Python ``len``), as most JSON APIs count."""
    return len(text)


def utf16_units(text: str) -> int:
    """UTF-16 code units, as JavaScript-backed platforms (Telegram, LinkedIn) count."""
    return len(text.encode("utf-16-le")) // 2
