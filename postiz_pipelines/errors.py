"""The exception tree of postiz_pipelines.

Every error the engine raises on purpose is a ``PostizError``::

    PostizError
    ├── ConfigError              a POSTIZ_* variable is missing or malformed (names the variable)
    ├── ValidationFailed         bad input; carries ``problems`` (field, value, limit)
    ├── NotFound                 an object does not exist, or not in the caller's workspaces
    ├── Conflict                 the request contradicts stored state (e.g. job already terminal)
    ├── SealingError             a sealed secret cannot be opened (unknown key id, tampered)
    └── ProviderError            a platform call failed; carries platform, HTTP status,
        │                        platform error code and whether it is retryable
        ├── RateLimited          429 or a platform throttle code; ``retry_after`` seconds;
        │   │                    ``scope`` "account", or "platform" (a project's daily quota)
        │   └── QuotaExhausted   a budget read before any publishing call leaves no room:
        │                        nothing was sent, the job waits without spending an attempt
        ├── StillProcessing      the platform has the post and is still working on it (TikTok
        │                        moderation): look again after ``retry_after``, never resubmit
        ├── TransientError       5xx, network errors, timeouts: retry with backoff
        │   └── OutcomeUnknown   the request may have reached the platform (timeout after
        │       │                sending, dropped connection): see DESIGN "never post twice"
        │       └── PartiallyPublished  a thread's first item is out, a later one failed:
        │                        never retried (it would post the first again)
        ├── AuthExpired          the access token expired: refresh, then retry once
        ├── AuthRevoked          the account must be reconnected (permanent)
        ├── OAuthClientMisconfigured  the app's OAuth client settings for the platform are
        │                        missing or refused (names the variable): the operator's
        │                        to fix, never the account's fault
        ├── ContentRejected      permanent: duplicate, too long, policy
        ├── MediaRejected        permanent: the platform refused a media file
        └── ConnectRefused       connecting failed on the platform's word (a refused code,
                                 bot token or app password, an unknown handle); ``field``

Provider errors are raised only from ``providers/``; httpx exceptions never leave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class PostizError(Exception):
    """Base class of every error raised on purpose by postiz_pipelines."""


class ConfigError(PostizError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Problem:
    """One reason an input was refused: the field, what was wrong, and the limit."""

    field: str
    message: str
    value: Any = None
    limit: Any = None

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.value is not None:
            out["value"] = self.value
        if self.limit is not None:
            out["limit"] = self.limit
        return out


class ValidationFailed(PostizError):
    """Input was refused before anything was stored."""

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class NotFound(PostizError):
    """The object does not exist or is outside the caller's workspaces."""

    def __init__(self, kind: str, ident: str) -> None:
        self.kind = kind
        self.ident = ident
        super().__init__(f"{kind} {ident!r} not found")


class Conflict(PostizError):
    """The request contradicts the stored state."""


class SealingError(PostizError):
    """A sealed secret could not be opened."""


class ProviderError(PostizError):
    """A platform call failed.

    ``retryable`` tells the engine whether another attempt may succeed; ``code`` is the
    platform's own error code (Meta 190, LinkedIn 65601, Slack ``token_revoked``...).
    """

    retryable: bool = False
    error_class: str = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        platform: str,
        status: int | None = None,
        code: str | int | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.platform = platform
        self.status = status
        self.code = None if code is None else str(code)
        if retryable is not None:
            self.retryable = retryable

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(platform={self.platform!r}, status={self.status!r}, "
            f"code={self.code!r}, retryable={self.retryable!r}, message={self.message!r})"
        )


class RateLimited(ProviderError):
    """The platform throttled us; wait ``retry_after`` seconds before the next call."""

    retryable = True
    error_class = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        scope: str = "account",
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        # "platform" when the budget is the whole app's (YouTube's daily project quota):
        # every account of the platform waits, not just the one that was refused
        self.scope = scope


class QuotaExhausted(RateLimited):
    """The platform's publishing budget, read before any publishing call, has no room for
    this post (Instagram's ``content_publishing_limit``, YouTube's daily units): nothing was
    sent, so the job waits ``retry_after`` seconds and its attempt is given back."""

    error_class = "quota_exhausted"


class StillProcessing(ProviderError):
    """The platform accepted the submission and has not finished with it; the job looks
    again after ``retry_after`` seconds with the id it saved, and never submits again. The
    provider bounds how long it keeps looking."""

    retryable = True
    error_class = "still_processing"

    def __init__(self, message: str, *, retry_after: float, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class TransientError(ProviderError):
    """5xx, network error or timeout before the request could have been acted on."""

    retryable = True
    error_class = "transient"


class OutcomeUnknown(TransientError):
    """The request may have been acted on (timeout or drop after sending)."""

    error_class = "outcome_unknown"


class PartiallyPublished(OutcomeUnknown):
    """A thread's first item is published but item ``item`` failed; retrying would post the
    first one again, so the job stops here and a person decides."""

    retryable = False
    error_class = "partially_published"

    def __init__(self, *, platform: str, remote_id: str, item: int, cause: ProviderError) -> None:
        super().__init__(
            f"{platform}: the post is out ({remote_id}) but thread item {item} failed: "
            f"{cause.message}",
            platform=platform,
            status=cause.status,
            code=cause.code,
            retryable=False,
        )
        self.remote_id = remote_id
        self.item = item


class AuthExpired(ProviderError):
    """The access token expired; refresh it and retry once."""

    retryable = True
    error_class = "auth_expired"


class AuthRevoked(ProviderError):
    """The account's authorization is gone; a person must reconnect it."""

    error_class = "auth_revoked"


class OAuthClientMisconfigured(ProviderError):
    """The app's OAuth client for the platform is missing or refused (``invalid_client``):
    a configuration error naming ``variable``; the account's tokens are not at fault."""

    error_class = "oauth_client_config"

    def __init__(self, message: str, *, variable: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.variable = variable


def client_variable(platform: str, part: str = "client_id") -> str:
    """The setting an OAuth client value of ``platform`` is read from (``POSTIZ_X_CLIENT_ID``)."""
    if platform == "tiktok" and part == "client_id":
        part = "client_key"
    return f"POSTIZ_{platform.upper()}_{part.upper()}"


class ContentRejected(ProviderError):
    """The platform refused the content for good (duplicate, too long, policy)."""

    error_class = "content_rejected"


class MediaRejected(ProviderError):
    """The platform refused a media file for good."""

    error_class = "media_rejected"


class ConnectRefused(ProviderError):
    """Connecting an account failed for good on the platform's word: a refused code, bot
    token or app password, a handle that does not resolve, a server that is not the
    platform. ``field`` names what the user gave that was refused."""

    error_class = "connect_refused"

    def __init__(self, message: str, *, field: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.field = field
