"""The one Markdown renderer of frames: rounded numbers, missing values as "-", every dtype."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from postiz_pipelines.core.observability.tables import (
    EMPTY,
    MISSING,
    cell,
    is_missing,
    markdown_table,
)


def _body(md: str) -> list[list[str]]:
    lines = md.splitlines()[2:]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines if line]


def test_the_crash_a_nan_kept_by_astype_str_renders_as_a_dash():
    # pandas' string dtype keeps NaN through astype(str): the old renderer's join failed on it
    df = pd.DataFrame({"handle": ["alice", "bob"], "expires_in_h": [1.5, None]})
    md = markdown_table(df)
    assert _body(md) == [["alice", "1.5"], ["bob", MISSING]]


def test_every_column_type_with_gaps():
    df = pd.DataFrame(
        {
            "int": pd.Series([1, 2, 3], dtype="int64"),
            "nullable_int": pd.Series([1, None, 3], dtype="Int64"),
            "float": [1.23456, float("nan"), 2.0],
            "bool": [True, False, True],
            "nullable_bool": pd.Series([True, None, False], dtype="boolean"),
            "text": pd.Series(["naïve", None, "a|b\nc"], dtype="string"),
            "object": ["🎉", None, {"k": 1}],
            "when": pd.to_datetime(["2026-03-29T01:30:00Z", None, "2026-10-25T01:00:00Z"]),
            "category": pd.Categorical(["x", None, "y"]),
            "span": pd.to_timedelta(["90s", None, "1h"]),
        }
    )
    rows = _body(markdown_table(df))
    assert rows[0] == [
        "1",
        "1",
        "1.23",
        "yes",
        "yes",
        "naïve",
        "🎉",
        "2026-03-29T01:30:00+00:00",
        "x",
        "90 s",
    ]
    assert rows[1] == ["2", MISSING, MISSING, "no", MISSING, MISSING, MISSING, MISSING] + [
        MISSING,
        MISSING,
    ]
    assert rows[2][2] == "2" and rows[2][5] == "a\\|b c" and rows[2][6] == '{"k": 1}'
    assert rows[2][9] == "3600 s"


def test_empty_frames_and_row_lists():
    assert markdown_table(pd.DataFrame()) == EMPTY
    assert markdown_table(pd.DataFrame(columns=["a", "b"])) == EMPTY
    assert markdown_table([]) == EMPTY
    md = markdown_table([{"a": 1, "b": None}, {"a": 2.5, "c": "x"}])
    assert md.splitlines()[0] == "| a | b | c |"
    assert _body(md) == [["1", MISSING, MISSING], ["2.5", MISSING, "x"]]


def test_more_rows_than_shown_says_so():
    md = markdown_table(pd.DataFrame({"n": range(25)}), max_rows=20)
    assert len(_body(md.split("\n\n")[0])) == 20
    assert md.endswith("_5 more rows not shown_")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.125, "0.12"),  # round half to even, as Python rounds
        (-1.005, "-1"),
        (1e-9, "0"),
        (float("inf"), "∞"),
        (3, "3"),
        (date(2026, 3, 29), "2026-03-29"),
        (datetime(2026, 3, 29, 2, 30, tzinfo=UTC), "2026-03-29T02:30:00+00:00"),
        (timedelta(minutes=2), "120 s"),
        (b"\x00\x01", "<2 bytes>"),
        (pd.NA, MISSING),
        (pd.NaT, MISSING),
        (None, MISSING),
    ],
)
def test_cells(value, text):
    assert cell(value) == text


def test_is_missing_only_for_missing_values():
    assert all(is_missing(v) for v in (None, float("nan"), pd.NA, pd.NaT))
    assert not any(is_missing(v) for v in (0, "", "nan", [], False, 0.0))
