"""AT Protocol syntax the Bluesky emulator checks, written from the spec for the sandbox alone.

- A TID is 13 characters of base32-sortable (``234567a-z``) holding 64 bits: a zero top bit,
  53 bits of microseconds since the epoch and a 10-bit clock id; the first character is
  therefore one of ``234567abcdefghij``.
- A record URI is ``at://<repo>/<collection>/<rkey>``, three non-empty parts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

POST_COLLECTION = "app.bsky.feed.post"
_BASE32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
_TID = re.compile(r"^[2-7a-j][2-7a-z]{12}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_tid(value: str) -> bool:
    return bool(_TID.fullmatch(value))


def make_tid(when: datetime, clock_id: int = 0) -> str:
    micros = (when - _EPOCH) // timedelta(microseconds=1)
    number = (micros << 10) | (clock_id % 1024)
    out = ""
    for shift in range(60, -1, -5):
        out += _BASE32_SORTABLE[(number >> shift) & 0x1F]
    return out


def record_uri(value: str) -> str:
    """``value`` when it is a record URI; ``ValueError`` otherwise."""
    parts = value.removeprefix("at://").split("/") if value.startswith("at://") else []
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"not a record URI: {value!r}")
    return value
