"""The X provider's weighted length against twitter-text's own conformance cases (all 44
``weightedLength`` cases of validate.yml, v3 and v2 sections), and the classes of text the
cases are about, through ``validate()``: URLs without a scheme, flags and keycaps, host
labels over 63 characters and punycode hosts, bidirectional marks, a trailing balanced
parenthesis."""

from __future__ import annotations

import pytest

from postiz_pipelines.providers.base import PostContent
from postiz_pipelines.providers.text import x_count
from postiz_pipelines.providers.x import XProvider
from postiz_pipelines_tests.providers.twitter_text_cases import weighted_cases


@pytest.mark.parametrize(("text", "v3", "length", "valid"), weighted_cases())
def test_conformance_weighted_length(text: str, v3: bool, length: int, valid: bool) -> None:
    counted = x_count(text, emoji_sequences=v3)
    assert (counted.weighted_length, counted.valid) == (length, valid)


# (piece, weight): each piece is padded with Latin letters to exactly 280.
CLASSES = [
    ("t.co/x", 23),  # a URL without a scheme
    ("see example.com", 27),
    ("Grüße example.de/straße", 29),  # non-ASCII around a scheme-less URL
    ("🇯🇵", 2),  # a flag: two regional indicators
    ("1️⃣", 2),  # a keycap
    ("🏴󠁧󠁢󠁳󠁣󠁴󠁿", 2),  # a tag sequence (Scotland)
    ("👩🏽‍💻", 2),  # ZWJ with a skin tone
    ("https://" + "a" * 64 + ".com", 76),  # a 64-character label: no URL, plain text
    ("http://xn--fsq.com/p", 23),  # a punycode host
    ("\u202ahttps://example.com\u202c", 27),  # bidi marks stay outside the URL (2 each)
    ("(https://en.wikipedia.org/wiki/Foo_(bar))", 25),  # balanced ( ) in, the outer ) out
    ("中文", 4),
]


@pytest.mark.parametrize(("piece", "weight"), CLASSES, ids=[c[0][:20] for c in CLASSES])
def test_validate_counts_each_class_as_x_does(piece: str, weight: int) -> None:
    provider = XProvider(None)
    assert x_count(piece).weighted_length == weight
    fits = piece + " " + "a" * (280 - weight - 1)
    assert x_count(fits).weighted_length == 280
    assert provider.validate(PostContent(fits)) == []
    over = provider.validate(PostContent(fits + "a"))
    assert [(p.field, p.value, p.limit) for p in over] == [("x.text", 281, 280)]


def test_a_character_x_refuses_is_a_problem_even_when_short() -> None:
    problems = XProvider(None).validate(PostContent("hello\ufffe"), None)
    assert [p.field for p in problems] == ["x.text"]
    assert "U+FFFE" in problems[0].message
    thread = XProvider(None).validate(PostContent("fine", thread=("ok", "bad\uffff")))
    assert [p.field for p in thread] == ["x.thread[2]"]
