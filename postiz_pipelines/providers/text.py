"""Text counting rules of the platforms, each a pure function of the text.

- graphemes: user-perceived characters (``regex`` ``\\X``), as Bluesky and Mastodon count.
- Mastodon: every URL counts ``characters_reserved_per_url`` (23); ``@user@domain``
  mentions count only ``@user``; then graphemes.
- X: NFC-normalised; weight 1 for U+0000-10FF, 2000-200D, 2010-201F, 2032-2037, else 2;
  an emoji sequence counts 2; every URL counts 23.
- Threads: UTF-8 bytes for emoji, characters otherwise (the docs' rule).
"""

from __future__ import annotations

import unicodedata

import regex

URL_RE = regex.compile(r"https?://[^\s<>\"]+[^\s<>\"\.,;:!?\)\]'\}]", regex.IGNORECASE)
MASTODON_MENTION_RE = regex.compile(r"(?<![\w/])@(\w+)@[\w.-]+\w", regex.UNICODE)
EMOJI_RE = regex.compile(r"\p{Extended_Pictographic}")
GRAPHEME_RE = regex.compile(r"\X")

X_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))


def graphemes(text: str) -> int:
    return len(GRAPHEME_RE.findall(text))


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def mastodon_length(text: str, url_length: int = 23) -> int:
    text = URL_RE.sub("x" * url_length, text)
    text = MASTODON_MENTION_RE.sub(lambda m: "@" + m.group(1), text)
    return graphemes(text)


def _x_weight(cluster: str) -> int:
    if EMOJI_RE.search(cluster):
        return 2
    return sum(
        1 if any(lo <= ord(ch) <= hi for lo, hi in X_LIGHT_RANGES) else 2 for ch in cluster
    )


def x_weighted_length(text: str, url_length: int = 23) -> int:
    text = unicodedata.normalize("NFC", text)
    total = 0
    pos = 0
    for m in URL_RE.finditer(text):
        total += sum(_x_weight(c) for c in GRAPHEME_RE.findall(text[pos : m.start()]))
        total += url_length
        pos = m.end()
    total += sum(_x_weight(c) for c in GRAPHEME_RE.findall(text[pos:]))
    return total


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
