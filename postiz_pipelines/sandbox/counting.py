"""How each emulated platform counts text, written for the sandbox alone.

The providers count text too, to refuse a post before sending it; the sandbox must not share
their code, or a mistake in it would be made twice and never seen. So the emulators count
with their own rules (X's weighted length is in ``x_text.py``), graphemes by ``regex`` ``\\X``:

- Mastodon: each ``http(s)://`` URL counts 23; ``@user@domain`` counts as ``@user``; then
  graphemes.
- Threads: characters, except that an emoji cluster counts its UTF-8 bytes.
- Telegram and LinkedIn: UTF-16 code units (JavaScript string length).
"""

from __future__ import annotations

import regex

_CLUSTER = regex.compile(r"\X")
_PICTOGRAPH = regex.compile(r"\p{Extended_Pictographic}")
# Mastodon's own rule: a URL is http(s):// up to whitespace, without trailing punctuation.
# A URL must not follow a letter, digit, @, $ or # (twitter-text's preceding-character rule,
# which Mastodon's StatusLengthValidator applies through its extractor).
_MASTODON_URL = regex.compile(
    r"(?<![A-Za-z0-9@＠$#＃])https?://\S+?(?=[.,;:!?)\]'\"]*(?:\s|$))", regex.IGNORECASE
)
# Mastodon's Account::MENTION_RE: a username (letters, digits, _ joined by . or -) and a
# domain; the status counts the username part only.
_MASTODON_REMOTE_MENTION = regex.compile(
    r"(?<![=/\w])(@[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)@\w+(?:[.-]+\w+)+", regex.IGNORECASE
)


def grapheme_count(text: str) -> int:
    return sum(1 for _ in _CLUSTER.finditer(text))


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def mastodon_counted(text: str, url_length: int = 23) -> int:
    text = _MASTODON_URL.sub("u" * url_length, text)
    text = _MASTODON_REMOTE_MENTION.sub(lambda m: m.group(1), text)
    return grapheme_count(text)


def threads_counted(text: str) -> int:
    total = 0
    for m in _CLUSTER.finditer(text):
        cluster = m.group(0)
        total += len(cluster.encode("utf-8")) if _PICTOGRAPH.search(cluster) else len(cluster)
    return total
