"""How the Meta Graph API's errors map onto errors.py, for Facebook, Instagram and Threads.

Graph answers ``{"error": {"message", "type", "code", "error_subcode", "is_transient",
"error_user_msg", "fbtrace_id"}}`` whatever the HTTP status. ``classify`` maps it once for
all three (``code`` on the error reads ``"190/463"``)::

    code (/subcode)                                   becomes
    4, 17, 32, 341, 613, 80000-80014, HTTP 429        RateLimited: BUC
    estimated_time_to_regain_access,
                                                      else Retry-After, else 5 minutes
    9 (/2207042 Instagram's daily publishing limit)   RateLimited until the next UTC day
    190/463 (expired) where the platform refreshes    AuthExpired
    190, 102, 10, 200-299, 100/33 (not the caller's)  AuthRevoked
    506 (duplicate), 368 (policy), 4/2207051 (spam),  ContentRejected
    2207010 (caption), 2207050 (restricted user)
    1, 2, is_transient, 9007/2207027 (not ready),     TransientError
    -1/-2/24 (2207001/03/06/08/20/32/53)
    324, 352, 389, 36000-36003, 9004, 1366046,        MediaRejected
    2207004/05/09/23/26/28/52/57
    100 and other 4xx                                 by the call: MediaRejected for media,
                                                      ContentRejected for a post
    5xx                                               TransientError
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from postiz_pipelines.clock import ensure_utc
from postiz_pipelines.errors import (
    AuthExpired,
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    ProviderError,
    RateLimited,
    TransientError,
)
from postiz_pipelines.providers.base import retry_after_seconds

DEFAULT_THROTTLE_SECONDS = 300.0  # Meta's windows roll over an hour; the engine backs off more
# Which call failed decides the class of a generic refusal (code 100, other 4xx).
MEDIA = "media"
POST = "post"
PUBLISH = "publish"  # the call that makes a post visible: an unreadable answer is uncertain
READ = "read"
REFRESH = "refresh"

THROTTLE_CODES = frozenset({4, 17, 32, 341, 613})
AUTH_CODES = frozenset({102, 190, 10})
CONTENT_CODES = frozenset({368, 506})
TRANSIENT_CODES = frozenset({1, 2, 9007})
MEDIA_CODES = frozenset({324, 352, 389, 9004, 36000, 36001, 36002, 36003})
CONTENT_SUBCODES = frozenset({2207010, 2207050, 2207051})
TRANSIENT_SUBCODES = frozenset(
    {2207001, 2207003, 2207006, 2207008, 2207020, 2207027, 2207032, 2207053}
)
MEDIA_SUBCODES = frozenset(
    {1366046, 2207004, 2207005, 2207009, 2207023, 2207026, 2207028, 2207052, 2207057}
)
_STATUS_CODE_RE = re.compile(r"error code (\d+)")


@dataclass(frozen=True)
class GraphError:
    """The ``error`` object of a Graph answer."""

    code: int | None = None
    subcode: int | None = None
    message: str = ""
    user_message: str = ""
    transient: bool = False

    @property
    def label(self) -> str | None:
        """The platform's code as errors carry it: ``"190"`` or ``"190/463"``."""
        if self.code is None:
            return None if self.subcode is None else str(self.subcode)
        return f"{self.code}/{self.subcode}" if self.subcode is not None else str(self.code)


def parse_error(body: Any) -> GraphError | None:
    """The Graph error in a decoded body, or None when there is none."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    return GraphError(
        code=as_int(error.get("code")),
        subcode=as_int(error.get("error_subcode")),
        message=str(error.get("message") or ""),
        user_message=str(error.get("error_user_msg") or ""),
        transient=bool(error.get("is_transient")),
    )


def status_error(status: str, fallback: str = "") -> GraphError:
    """A container's failed processing (``"Error: ... error code 2207026"`` on Instagram,
    ``error_message`` on Threads) as a ``GraphError``."""
    match = _STATUS_CODE_RE.search(status)
    subcode = int(match.group(1)) if match else None
    return GraphError(subcode=subcode, message=status or fallback)


def throttle_wait(headers: Mapping[str, str], now: datetime) -> float:
    """Seconds until Meta lets us call again: the largest ``estimated_time_to_regain_access``
    (minutes) in ``X-Business-Use-Case-Usage``, else ``Retry-After``, else a default."""
    raw = {k.lower(): v for k, v in headers.items()}.get("x-business-use-case-usage")
    minutes = 0
    try:
        usage = json.loads(raw) if raw else {}
    except ValueError:
        usage = {}
    for entries in usage.values() if isinstance(usage, dict) else ():
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict):
                minutes = max(minutes, as_int(entry.get("estimated_time_to_regain_access")) or 0)
    if minutes > 0:
        return minutes * 60.0
    waited = retry_after_seconds(headers, now=now)
    return waited if waited is not None else DEFAULT_THROTTLE_SECONDS


def seconds_to_next_utc_day(now: datetime) -> float:
    now = ensure_utc(now)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


def classify(
    platform: str,
    status: int,
    error: GraphError | None,
    headers: Mapping[str, str],
    *,
    call: str,
    now: datetime,
    refreshable: bool,
    reason: str = "",
) -> ProviderError:
    """The ``ProviderError`` for a failed Graph call; see the module docstring."""
    error = error or GraphError()
    text = error.message or reason or f"HTTP {status}"
    if error.user_message and error.user_message not in text:
        text = f"{text} ({error.user_message})"
    message = f"{platform}: {text}"
    kw: dict[str, Any] = {"platform": platform, "status": status, "code": error.label}
    code, sub = error.code, error.subcode
    if sub in CONTENT_SUBCODES or code in CONTENT_CODES:
        return ContentRejected(message, **kw)
    if code == 9 or sub == 2207042:
        return RateLimited(message, retry_after=seconds_to_next_utc_day(now), **kw)
    if status == 429 or code in THROTTLE_CODES or (code is not None and 80000 <= code <= 80014):
        return RateLimited(message, retry_after=throttle_wait(headers, now), **kw)
    if code == 190 and sub == 463 and refreshable and call != REFRESH:
        return AuthExpired(message, **kw)
    if code in AUTH_CODES or (code is not None and 200 <= code <= 299) or (code, sub) == (100, 33):
        return AuthRevoked(message, **kw)
    if code in TRANSIENT_CODES or sub in TRANSIENT_SUBCODES or error.transient:
        return TransientError(message, **kw)
    if code in MEDIA_CODES or sub in MEDIA_SUBCODES:
        return MediaRejected(message, **kw)
    if status >= 500:
        return TransientError(message, **kw)
    if 400 <= status < 500 or code is not None:
        if call == MEDIA:
            return MediaRejected(message, **kw)
        if call in (POST, PUBLISH):
            return ContentRejected(message, **kw)
    if 200 <= status < 300:
        return TransientError(f"{message} (unexpected answer)", **kw)
    return ProviderError(message, **kw)


def as_int(value: Any) -> int | None:
    """``value`` as an int, or None when it is not one (Graph sends numbers and strings)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
