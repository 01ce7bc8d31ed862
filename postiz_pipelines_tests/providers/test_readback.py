"""The text matcher of the never-post-twice read-back, which every lookup provider uses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from postiz_pipelines.providers.readback import normalise_text, parse_time, same_text


@pytest.mark.parametrize(
    ("found", "wanted"),
    [
        ("Grüße aus Köln 🎉\n\nZweiter Absatz", "Grüße aus Köln 🎉 Zweiter Absatz"),
        ("  trailing newline\n", "trailing newline"),
        ("tab\tand\u00a0no-break space", "tab and no-break space"),
        ("", "   "),
    ],
)
def test_texts_that_differ_only_in_white_space_are_the_same_post(found: str, wanted: str) -> None:
    assert same_text(found, wanted)


@pytest.mark.parametrize(
    ("found", "wanted"),
    [
        ("Hello world", "hello world"),  # case counts
        ("👍🏽 done", "👍 done"),  # a skin tone is a different emoji
        ("café", "cafe"),  # accents count
        ("Launch!", "Launch"),
    ],
)
def test_any_other_difference_is_another_post(found: str, wanted: str) -> None:
    assert not same_text(found, wanted)


def test_normalise_folds_runs_and_trims() -> None:
    assert normalise_text("\n a  b\n\nc \t") == "a b c"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-28T12:00:00Z", datetime(2026, 11, 28, 12, tzinfo=UTC)),
        ("2026-11-28T12:00:00.250Z", datetime(2026, 11, 28, 12, 0, 0, 250_000, tzinfo=UTC)),
        ("2026-11-28T12:00:00+0000", datetime(2026, 11, 28, 12, tzinfo=UTC)),  # Graph
        ("2026-11-28T13:00:00+01:00", datetime(2026, 11, 28, 12, tzinfo=UTC)),
        ("not a date", None),
        (None, None),
        (1764331200, None),
    ],
)
def test_parse_time_reads_every_platforms_timestamps(value: object, expected: object) -> None:
    parsed = parse_time(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
