"""Engagement the emulated platforms report for the posts they accepted, growing over time.

A post's counts at instant ``now`` are ``base + floor(per_hour * hours)``, hours counted from
when the spec was set (or the post was accepted). Without a spec set through the control
API (``PUT /_sandbox/{platform}/posts/{remote_id}/engagement``) or ``set_engagement``, each
post grows at a steady rate derived from its id, so the demo's figures change between pulls
and differ between posts; tests set exact specs and compute the counts by hand.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime

METRICS = ("likes", "reposts", "replies", "views")


@dataclass(frozen=True)
class EngagementSpec:
    """Counts at ``since`` and their growth per hour from then on."""

    since: datetime
    base: dict[str, int] = field(default_factory=dict)
    per_hour: dict[str, float] = field(default_factory=dict)

    def at(self, now: datetime) -> dict[str, int]:
        hours = max((now - self.since).total_seconds(), 0.0) / 3600
        return {
            m: int(self.base.get(m, 0)) + math.floor(self.per_hour.get(m, 0.0) * hours)
            for m in METRICS
        }


def default_spec(remote_id: str, accepted_at: datetime) -> EngagementSpec:
    """A steady growth from acceptance: 1 to 6 likes an hour, chosen by the id's hash."""
    rate = 1 + hashlib.sha256(remote_id.encode()).digest()[0] % 6
    return EngagementSpec(
        since=accepted_at,
        per_hour={"likes": rate, "reposts": rate / 3, "replies": rate / 4, "views": rate * 40},
    )


def parse_spec(body: dict[str, object], *, now: datetime) -> EngagementSpec:
    """A spec from the control API's JSON: ``{"likes": 3, ..., "per_hour": {"likes": 2}}``.
    Raises ValueError naming the bad field."""
    base: dict[str, int] = {}
    for m in METRICS:
        value = body.get(m, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{m} must be a non-negative integer")
        base[m] = value
    rates = body.get("per_hour") or {}
    if not isinstance(rates, dict):
        raise ValueError("per_hour must be an object of metric -> number")
    per_hour: dict[str, float] = {}
    for key, value in rates.items():
        if key not in METRICS or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"per_hour.{key}: must be one of {METRICS} with a number >= 0")
        per_hour[key] = float(value)
    return EngagementSpec(since=now, base=base, per_hour=per_hour)
