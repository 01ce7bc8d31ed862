"""AT Protocol building blocks shared by the Bluesky provider and its emulator: TIDs and
record keys, AT URIs, and rich-text facets with their UTF-8 byte offsets.

A TID is 13 characters of base32-sortable holding 64 bits: a zero top bit, 53 bits of
microseconds since the epoch, 10 bits of clock id. ``app.bsky.feed.post`` records must be
keyed by a TID, or the AppView does not index them, so a deterministic record key is a TID
too (``record_key_for``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import regex

from postiz_pipelines.providers.text import URL_RE

POST_COLLECTION = "app.bsky.feed.post"
S32_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
TID_RE = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
# A UTC instant inside an idempotency key, as the queue writes it (``20261128T120000Z``).
KEY_INSTANT_RE = re.compile(r"(\d{8}T\d{6}Z)")
# Handles are domain names; a mention is ``@`` + handle after a start, space or bracket.
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_TLD = r"[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
MENTION_RE = regex.compile(rf"(?<=^|[\s(\[{{])@((?:{_LABEL}\.)+{_TLD})")
LINK_FEATURE = "app.bsky.richtext.facet#link"
MENTION_FEATURE = "app.bsky.richtext.facet#mention"
TAG_FEATURE = "app.bsky.richtext.facet#tag"
# A hashtag as the Bluesky app finds it: ``#`` (or ``＃``) after a start or a space, then a
# tag that is not all digits; trailing punctuation is not part of it; at most 64 characters.
_TAG_BREAK = r"\s\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
TAG_RE = regex.compile(
    rf"(?<=^|\s)[#＃]((?!\ufe0f)[^{_TAG_BREAK}]*[^\d{_TAG_BREAK}\p{{P}}]+[^{_TAG_BREAK}]*)?"
)
TRAILING_PUNCTUATION_RE = regex.compile(r"\p{P}+$")
MAX_TAG = 64
# BCP-47 language tags (RFC 5646's well-formed syntax, as the PDS checks ``langs``).
_LANGUAGE = r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})"
_SUBTAGS = (
    r"(?:-[a-z]{4})?(?:-(?:[a-z]{2}|\d{3}))?(?:-(?:[a-z\d]{5,8}|\d[a-z\d]{3}))*"
    r"(?:-[\da-wy-z](?:-[a-z\d]{2,8})+)*(?:-x(?:-[a-z\d]{1,8})+)?"
)
_GRANDFATHERED = (
    r"en-GB-oed|i-(?:ami|bnn|default|enochian|hak|klingon|lux|mingo|navajo|pwn|tao|tay|tsu)"
    r"|sgn-(?:BE-FR|BE-NL|CH-DE)|art-lojban|cel-gaulish|no-(?:bok|nyn)"
    r"|zh-(?:guoyu|hakka|min|min-nan|xiang)"
)
BCP47_RE = regex.compile(
    rf"^(?:{_GRANDFATHERED}|{_LANGUAGE}{_SUBTAGS}|x(?:-[a-z\d]{{1,8}})+)$", regex.IGNORECASE
)


def encode_tid(value: int) -> str:
    """The 13-character base32-sortable form of a 63-bit number."""
    if not 0 <= value < 1 << 63:
        raise ValueError("a TID holds 63 bits")
    chars = []
    for _ in range(13):
        chars.append(S32_CHARS[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def decode_tid(tid: str) -> int:
    """The number a TID holds; ``ValueError`` when ``tid`` is not TID syntax."""
    if not TID_RE.match(tid):
        raise ValueError(f"not a TID: {tid!r}")
    value = 0
    for ch in tid:
        value = (value << 5) | S32_CHARS.index(ch)
    return value


def tid_at(when: datetime, clock_id: int = 0) -> str:
    """The TID of an instant (microseconds) and a 10-bit clock id."""
    micros = int(when.timestamp()) * 1_000_000 + when.microsecond
    return encode_tid((micros << 10) | (clock_id & 0x3FF))


def tid_time(tid: str) -> datetime:
    """The instant a TID carries."""
    micros = decode_tid(tid) >> 10
    return datetime.fromtimestamp(micros // 1_000_000, tz=UTC).replace(
        microsecond=micros % 1_000_000
    )


def is_language_tag(value: str) -> bool:
    """Whether ``value`` is a well-formed BCP-47 tag (``en``, ``pt-BR``, ``zh-Hant-TW``);
    ``en_US`` is not (an underscore is POSIX locale syntax)."""
    return bool(BCP47_RE.match(value))


def is_tid(value: str) -> bool:
    return bool(TID_RE.match(value))


def record_key_for(idempotency_key: str) -> str:
    """A TID that is a pure function of ``idempotency_key``, so a retry reuses the rkey.

    When the key carries a UTC instant (the queue's keys do), the TID's clock is that
    instant, so keys sort by schedule; a hash of the whole key picks the microseconds and
    the clock id, so posts of the same instant (and the items of a thread) differ. Without
    an instant the hash is the whole TID, kept before 2005 so it never lies in the future.
    """
    digest = int.from_bytes(hashlib.sha256(idempotency_key.encode()).digest()[:8], "big")
    clock_id = digest & 0x3FF
    found = KEY_INSTANT_RE.search(idempotency_key)
    if found:
        instant = datetime.strptime(found.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        micros = int(instant.timestamp()) * 1_000_000 + (digest >> 10) % 1_000_000
    else:
        micros = (digest >> 10) % (1 << 50)
    return encode_tid((micros << 10) | clock_id)


@dataclass(frozen=True)
class AtUri:
    """``at://<repo>/<collection>/<rkey>``."""

    repo: str
    collection: str
    rkey: str

    def __str__(self) -> str:
        return f"at://{self.repo}/{self.collection}/{self.rkey}"

    @classmethod
    def parse(cls, value: str) -> AtUri:
        """``ValueError`` unless ``value`` is a record URI."""
        if not value.startswith("at://"):
            raise ValueError(f"not an AT URI: {value!r}")
        parts = value[5:].split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"not a record URI: {value!r}")
        return cls(*parts)


# -- rich text ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A piece of text found at ``[start, end)`` in characters, with its UTF-8 byte span."""

    kind: str  # "link" | "mention" | "tag"
    value: str  # the URL, the handle without "@", or the tag without "#"
    start: int
    end: int
    byte_start: int
    byte_end: int


def _byte_span(text: str, start: int, end: int) -> tuple[int, int]:
    byte_start = len(text[:start].encode("utf-8"))
    return byte_start, byte_start + len(text[start:end].encode("utf-8"))


def find_spans(text: str) -> list[Span]:
    """Links (``http(s)://``), ``@handle`` mentions and ``#tags``, in order, with UTF-8 byte
    offsets.

    Offsets count bytes because the protocol does: an emoji before a link moves the link's
    byte offset by four, not by one.
    """
    spans: list[Span] = []
    for m in URL_RE.finditer(text):
        spans.append(Span("link", m.group(0), m.start(), m.end(), *_byte_span(text, *m.span())))
    taken = [(s.start, s.end) for s in spans]
    for m in MENTION_RE.finditer(text):
        if any(a <= m.start() < b for a, b in taken):
            continue  # an @ inside a URL is part of the link
        spans.append(Span("mention", m.group(1), m.start(), m.end(), *_byte_span(text, *m.span())))
    for m in TAG_RE.finditer(text):
        tag = TRAILING_PUNCTUATION_RE.sub("", m.group(1) or "")
        if not tag or len(tag) > MAX_TAG or any(a <= m.start() < b for a, b in taken):
            continue
        end = m.start() + 1 + len(tag)
        spans.append(Span("tag", tag, m.start(), end, *_byte_span(text, m.start(), end)))
    return sorted(spans, key=lambda s: s.start)


def link_facet(span: Span) -> dict[str, Any]:
    return _facet(span, {"$type": LINK_FEATURE, "uri": span.value})


def mention_facet(span: Span, did: str) -> dict[str, Any]:
    return _facet(span, {"$type": MENTION_FEATURE, "did": did})


def tag_facet(span: Span) -> dict[str, Any]:
    return _facet(span, {"$type": TAG_FEATURE, "tag": span.value})


def _facet(span: Span, feature: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": {"byteStart": span.byte_start, "byteEnd": span.byte_end},
        "features": [feature],
    }


def facet_slices(text: str, facets: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each facet's text, cut out of ``text`` by its byte offsets (for checks and tests)."""
    data = text.encode("utf-8")
    for facet in facets:
        index = facet["index"]
        piece = data[index["byteStart"] : index["byteEnd"]].decode("utf-8", errors="replace")
        yield piece, facet["features"][0]
