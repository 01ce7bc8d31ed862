"""YouTube's resumable upload protocol, client side, and the project's quota ledger.

``resumable_upload`` sends a file to an upload session in chunks that are multiples of
256 KiB. After an interruption (a dropped connection, a timeout, a 5xx) it asks the session
how far it got (``Content-Range: bytes */N``) and goes on from the confirmed offset, so a
byte the server kept is never sent again and a half-uploaded file is never restarted. The
session URI is saved in the job's progress by the caller before the first byte, so a try
that died resumes the same session.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from postiz_pipelines.errors import (
    OutcomeUnknown,
    ProviderError,
    QuotaExhausted,
    TransientError,
)
from postiz_pipelines.providers.base import json_body, transport_errors

PLATFORM = "youtube"
CHUNK_QUANTUM = 256 * 1024
PACIFIC = ZoneInfo("America/Los_Angeles")
RANGE_RE = re.compile(r"bytes=(\d+)-(\d+)")


class SessionGone(Exception):  # noqa: N818 - names what the server said
    """The upload session no longer exists (404/410): it expired unfinished."""


def confirmed_offset(response: httpx.Response) -> int:
    """The number of bytes a 308 answer says the server kept."""
    match = RANGE_RE.search(response.headers.get("range", ""))
    return int(match[2]) + 1 if match else 0


async def resumable_upload(
    http: httpx.AsyncClient,
    session_url: str,
    data: bytes,
    *,
    chunk_size: int,
    max_interruptions: int,
    error: Callable[[httpx.Response], ProviderError],
    resume: bool = False,
) -> dict[str, Any]:
    """Upload ``data`` to ``session_url`` and return the video resource.

    With ``resume`` the session is asked first how far an earlier try got. Raises
    ``SessionGone`` for an expired session, the mapped ``error`` for a refused chunk, and
    ``TransientError`` after ``max_interruptions`` interruptions in a row without progress.
    """
    if chunk_size % CHUNK_QUANTUM:
        raise ValueError(f"chunk_size must be a multiple of {CHUNK_QUANTUM}")
    size = len(data)
    offset: int | None = None if resume else 0
    stalled = 0
    while True:
        if offset is None:  # ask the session where it stands
            try:
                response = await _put(http, session_url, b"", f"bytes */{size}")
            except (TransientError, OutcomeUnknown):
                stalled += 1
                if stalled > max_interruptions:
                    raise
                continue
            done = _answer(response, error)
            if done is not None:
                return done
            offset = confirmed_offset(response)
            continue
        end = min(offset + chunk_size, size)
        try:
            response = await _put(
                http, session_url, data[offset:end], f"bytes {offset}-{end - 1}/{size}"
            )
        except (TransientError, OutcomeUnknown):
            stalled += 1
            if stalled > max_interruptions:
                raise TransientError(
                    f"{PLATFORM}: upload interrupted {stalled} times at byte {offset}; "
                    "the session is kept and the next try resumes it",
                    platform=PLATFORM,
                ) from None
            offset = None
            continue
        if response.status_code >= 500:
            stalled += 1
            if stalled > max_interruptions:
                raise error(response)
            offset = None
            continue
        done = _answer(response, error)
        if done is not None:
            return done
        kept = confirmed_offset(response)
        if kept > offset:
            stalled = 0
        offset = kept


async def _put(
    http: httpx.AsyncClient, url: str, chunk: bytes, content_range: str
) -> httpx.Response:
    with transport_errors(PLATFORM):
        return await http.put(
            url,
            content=chunk,
            headers={"Content-Range": content_range, "Content-Length": str(len(chunk))},
        )


def _answer(
    response: httpx.Response, error: Callable[[httpx.Response], ProviderError]
) -> dict[str, Any] | None:
    """The video when the upload is complete, None while incomplete (308)."""
    if response.status_code == 308:
        return None
    if response.status_code in (404, 410):
        raise SessionGone(response.status_code)
    body = json_body(response)
    if response.status_code in (200, 201):
        if not isinstance(body, dict) or not body.get("id"):
            raise TransientError(
                f"{PLATFORM}: the finished upload answered without a video id",
                platform=PLATFORM,
                status=response.status_code,
            )
        return body
    raise error(response)


def next_quota_reset(now: datetime) -> datetime:
    """Midnight Pacific time after ``now``, when YouTube renews a project's daily quota."""
    local = now.astimezone(PACIFIC)
    return datetime(local.year, local.month, local.day, tzinfo=PACIFIC) + timedelta(days=1)


class QuotaLedger:
    """Units this process spent of the project's daily quota, per Pacific day.

    ``reserve`` refuses a call that would pass the budget with ``QuotaExhausted`` (scope
    ``platform``, until the reset) before anything is sent, so failures never burn what is
    left of the day; ``exhausted`` records the platform's own ``quotaExceeded``.
    """

    def __init__(self, daily_units: int) -> None:
        self.daily_units = daily_units
        self._spent: dict[str, int] = {}

    @staticmethod
    def _day(now: datetime) -> str:
        return now.astimezone(PACIFIC).date().isoformat()

    def spent(self, now: datetime) -> int:
        return self._spent.get(self._day(now), 0)

    def reserve(self, units: int, *, now: datetime, what: str) -> None:
        left = self.daily_units - self.spent(now)
        if units > left:
            raise QuotaExhausted(
                f"{PLATFORM}: {what} costs {units} quota units and {max(left, 0)} of the "
                f"project's {self.daily_units} remain today; waiting for the reset at "
                "midnight Pacific time",
                platform=PLATFORM,
                code="quotaExceeded",
                retry_after=(next_quota_reset(now) - now).total_seconds(),
                scope="platform",
            )

    def spend(self, units: int, *, now: datetime) -> None:
        day = self._day(now)
        self._spent[day] = self._spent.get(day, 0) + units

    def exhausted(self, now: datetime) -> None:
        self._spent[self._day(now)] = self.daily_units
