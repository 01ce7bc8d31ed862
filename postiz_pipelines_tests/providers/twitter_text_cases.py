"""twitter-text's conformance cases, read from ``data/`` for the X provider's and the X
emulator's tests (the two count independently; both must pass every case)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).parent / "data"
# The section of validate.yml and whether its configuration counts emoji sequences (v3).
WEIGHTED_SECTIONS = {
    "WeightedTweetsWithDiscountedEmojiCounterTest": True,
    "UnicodeDirectionalMarkerCounterTest": True,
    "WeightedTweetsCounterTest": False,
}


def _load(name: str) -> dict[str, list[dict[str, Any]]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return yaml.safe_load(f)["tests"]


def weighted_cases() -> list[Any]:
    """``pytest.param(text, emoji_sequences, weighted_length, valid)`` per case."""
    tests = _load("twitter_text_validate.yml")
    out = []
    for section, v3 in WEIGHTED_SECTIONS.items():
        for i, case in enumerate(tests[section]):
            expected = case["expected"]
            out.append(
                pytest.param(
                    case["text"],
                    v3,
                    expected["weightedLength"],
                    expected["valid"],
                    id=f"{section}[{i}] {case['description'][:50]}",
                )
            )
    return out


def url_cases() -> list[Any]:
    """``pytest.param(text, [url, ...])`` per case of extract.yml's URL sections."""
    out = []
    for section, cases in _load("twitter_text_extract_urls.yml").items():
        for i, case in enumerate(cases):
            urls = [u if isinstance(u, str) else u["url"] for u in case["expected"]]
            out.append(pytest.param(case["text"], urls, id=f"{section}[{i}]"))
    return out
