"""Text counting rules of the platforms, each a pure function of the text.

- graphemes: user-perceived characters (``regex`` ``\\X``), as Bluesky and Mastodon count.
- Mastodon: every URL counts ``characters_reserved_per_url`` (23); ``@user@domain``
  mentions count only ``@user``; then graphemes.
- X: twitter-text's v3 weighted length, by the maintained ``twitter-text-parser`` (the X
  emulator has its own implementation of the same rules; both pass twitter-text's
  conformance cases).
- Threads: UTF-8 bytes for emoji, characters otherwise (the docs' rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

# A URL starts after a character that cannot end a word or a mention (twitter-text's
# valid_url_preceding_chars), so "yhttps://..." is not a URL.
URL_RE = regex.compile(
    r"(?<![A-Za-z0-9@＠$#＃\u202A-\u202E])https?://[^\s<>\"]+[^\s<>\"\.,;:!?\)\]'\}]",
    regex.IGNORECASE,
)
# Mastodon's mention: a username of letters, digits and ``_`` joined by dots or dashes
# (``first.last``), then an optional ``@domain``; it counts as ``@username`` alone.
MASTODON_MENTION_RE = regex.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)@\w+(?:[.-]+\w+)*", regex.IGNORECASE
)
EMOJI_RE = regex.compile(r"\p{Extended_Pictographic}")
GRAPHEME_RE = regex.compile(r"\X")


def graphemes(text: str) -> int:
    return len(GRAPHEME_RE.findall(text))


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def mastodon_length(text: str, url_length: int = 23) -> int:
    """Mastodon's length: each URL counts ``url_length`` (the instance's
    ``characters_reserved_per_url``), ``@user@domain`` counts as ``@user``, then graphemes."""
    text = URL_RE.sub("x" * url_length, text)
    text = MASTODON_MENTION_RE.sub(lambda m: "@" + m.group(1), text)
    return graphemes(text)


@dataclass(frozen=True)
class XCount:
    """X's verdict on a text: its weighted length, and whether X would take it (1 to 280,
    none of the characters twitter-text calls invalid: U+FFFE, U+FEFF, U+FFFF)."""

    weighted_length: int
    valid: bool


def x_count(text: str, *, emoji_sequences: bool = True) -> XCount:
    """X's count of ``text`` by the maintained twitter-text port (``twitter-text-parser``),
    in twitter-text's v3 configuration (the one X uses: URLs with or without a scheme 23,
    an emoji sequence 2, CJK and most other scripts 2 a character, Latin 1);
    ``emoji_sequences=False`` is v2, which weighs each emoji code point alone."""
    from twitter_text import parse_tweet
    from twitter_text.config import config

    # The package's v2 configuration lacks the emoji switch its parser reads.
    options = (
        config["version3"]
        if emoji_sequences
        else {**config["version2"], "emoji_parsing_enabled": False}
    )
    parsed = parse_tweet(text, options)
    return XCount(int(parsed.weightedLength), bool(parsed.valid))


def x_weighted_length(text: str) -> int:
    """X's weighted length of ``text`` (see ``x_count``)."""
    return x_count(text).weighted_length


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
