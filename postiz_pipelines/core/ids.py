"""Object identifiers: a short type prefix and 128 random bits, e.g. ``post_3f9c...``."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"
