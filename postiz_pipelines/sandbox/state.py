"""The sandbox's memory: accounts and tokens, accepted posts, media, request counts, rate
windows and faults, shared by every platform emulator.

``SandboxState`` is thread-safe (one re-entrant lock), because tests read it from their
own thread while a ``running_sandbox()`` server writes to it from another. Emulators that
need a check-then-write to be atomic (idempotency keys) hold ``state.lock`` around both.
Time comes from an injected clock so windows and key lifetimes can be tested exactly.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from postiz_pipelines.clock import Clock, SystemClock
from postiz_pipelines.sandbox.engagement import EngagementSpec, default_spec
from postiz_pipelines.sandbox.faults import Faults


class TokenStatus(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class SandboxAccount:
    """An account on an emulated platform; the token that reaches it is not kept here."""

    platform: str
    id: str
    username: str
    display_name: str
    created_at: datetime
    disabled: bool = False


@dataclass(frozen=True)
class Authentication:
    status: TokenStatus
    account: SandboxAccount


@dataclass(frozen=True)
class StoredMedia:
    """An uploaded file as the platform keeps it: a digest here; the bytes themselves are
    kept apart (``received_bytes``), within a bound, so tests can read back what arrived."""

    platform: str
    id: str
    account_id: str
    mime_type: str
    size_bytes: int
    sha256: str
    created_at: datetime
    filename: str = ""
    description: str = ""
    focus: tuple[float, float] | None = None
    width: int | None = None
    height: int | None = None
    pending_polls: int = 0  # status polls still answered "processing"
    attached_to: str | None = None  # the remote id of the post that uses it

    @property
    def ready(self) -> bool:
        return self.pending_polls <= 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "filename": self.filename,
            "description": self.description,
            "width": self.width,
            "height": self.height,
            "ready": self.ready,
        }


@dataclass(frozen=True)
class AcceptedPost:
    """One post a platform accepted, as tests read it back."""

    platform: str
    account_id: str
    handle: str
    text: str
    remote_id: str
    created_at: datetime
    media: tuple[StoredMedia, ...] = ()
    reply_to: str | None = None
    idempotency_key: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # platform-specific fields

    def as_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "account_id": self.account_id,
            "handle": self.handle,
            "text": self.text,
            "remote_id": self.remote_id,
            "created_at": self.created_at.isoformat(),
            "media": [m.as_json() for m in self.media],
            "reply_to": self.reply_to,
            "idempotency_key": self.idempotency_key,
            "extra": dict(self.extra),
        }


@dataclass(frozen=True)
class RateWindow:
    """One fixed rate-limit window after a request was counted in it."""

    limit: int
    used: int
    reset_at: datetime

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit


RECEIVED_BYTES_LIMIT = 256 * 1024 * 1024


def _token_key(platform: str, token: str) -> tuple[str, str]:
    # Only a digest is kept, so a dump of the state never shows a usable token.
    return platform, hashlib.sha256(token.encode()).hexdigest()


class SandboxState:
    """Everything the emulated platforms remember; see the module docstring."""

    def __init__(self, *, clock: Clock | None = None, seed: int | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.lock = threading.RLock()
        self.faults = Faults(self.clock, default_seed=seed)
        self._init_memory()

    def _init_memory(self) -> None:
        self._ids = itertools.count(1)
        self._tokens: dict[tuple[str, str], TokenStatus] = {}
        self._token_accounts: dict[tuple[str, str], str] = {}
        self._accounts: dict[tuple[str, str], SandboxAccount] = {}
        self._posts: dict[str, list[AcceptedPost]] = defaultdict(list)
        self._posts_by_id: dict[tuple[str, str], AcceptedPost] = {}
        self._by_key: dict[tuple[str, str, str], AcceptedPost] = {}
        self._activity: dict[tuple[str, str], tuple[int, datetime]] = {}
        self._media: dict[tuple[str, str], StoredMedia] = {}
        self._requests: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._windows: dict[tuple[str, str, str], tuple[int, int]] = {}
        self._rate_overrides: dict[tuple[str, str], tuple[int, float]] = {}
        self._bytes: dict[str, bytes] = {}  # sha256 -> the bytes a platform received
        self._settings: dict[str, dict[str, Any]] = defaultdict(dict)
        self._engagement: dict[tuple[str, str], EngagementSpec] = {}
        self._deleted: dict[tuple[str, str], AcceptedPost] = {}

    def now(self) -> datetime:
        return self.clock.now()

    def reset(self) -> None:
        """Forget everything, faults included."""
        with self.lock:
            self._init_memory()
        self.faults.reset()

    def next_number(self) -> int:
        """A number never handed out before by this state (emulators format it as an id)."""
        with self.lock:
            return next(self._ids)

    # -- accounts and tokens -----------------------------------------------------------
    def provision(
        self,
        platform: str,
        token: str,
        *,
        username: str | None = None,
        display_name: str | None = None,
        disabled: bool = False,
    ) -> SandboxAccount:
        """Create (or update) the account a token reaches; the token becomes valid."""
        key = _token_key(platform, token)
        with self.lock:
            existing_id = self._token_accounts.get(key)
            if existing_id is not None:
                account = self._accounts[(platform, existing_id)]
                account = replace(
                    account,
                    username=username or account.username,
                    display_name=display_name or account.display_name,
                    disabled=disabled,
                )
            else:
                number = self.next_number()
                name = username or f"user{number}"
                account = SandboxAccount(
                    platform=platform,
                    id=str(number),
                    username=name,
                    display_name=display_name or name.title(),
                    created_at=self.now(),
                    disabled=disabled,
                )
                self._token_accounts[key] = account.id
            self._accounts[(platform, account.id)] = account
            self._tokens[key] = TokenStatus.VALID
            return account

    def bind_token(self, platform: str, token: str, account_id: str) -> None:
        """Make ``token`` a valid token of an existing account (an authorization code the
        consent page issued for the user who consented)."""
        key = _token_key(platform, token)
        with self.lock:
            if (platform, account_id) not in self._accounts:
                raise KeyError(account_id)
            self._token_accounts[key] = account_id
            self._tokens[key] = TokenStatus.VALID

    def authenticate(self, platform: str, token: str) -> Authentication:
        """The token's status and account; an unseen token provisions a new account."""
        key = _token_key(platform, token)
        with self.lock:
            if key not in self._tokens:
                self.provision(platform, token)
            account = self._accounts[(platform, self._token_accounts[key])]
            return Authentication(self._tokens[key], account)

    def revoke_token(self, platform: str, token: str) -> None:
        self._mark_token(platform, token, TokenStatus.REVOKED)

    def expire_token(self, platform: str, token: str) -> None:
        self._mark_token(platform, token, TokenStatus.EXPIRED)

    def _mark_token(self, platform: str, token: str, status: TokenStatus) -> None:
        key = _token_key(platform, token)
        with self.lock:
            if key not in self._tokens:
                self.provision(platform, token)
            self._tokens[key] = status

    def set_disabled(self, platform: str, token: str, disabled: bool = True) -> SandboxAccount:
        """Disable (or re-enable) the account a token reaches."""
        with self.lock:
            account = self.authenticate(platform, token).account
            account = replace(account, disabled=disabled)
            self._accounts[(platform, account.id)] = account
            return account

    def accounts(self, platform: str) -> list[SandboxAccount]:
        """Every account of ``platform``, oldest first."""
        with self.lock:
            return [a for (p, _), a in self._accounts.items() if p == platform]

    def account(self, platform: str, account_id: str) -> SandboxAccount | None:
        with self.lock:
            return self._accounts.get((platform, account_id))

    # -- posts -------------------------------------------------------------------------
    def record_post(self, post: AcceptedPost) -> AcceptedPost:
        """Remember an accepted post and mark its media as attached."""
        with self.lock:
            self._posts[post.platform].append(post)
            self._posts_by_id[(post.platform, post.remote_id)] = post
            if post.idempotency_key:
                self._by_key[(post.platform, post.account_id, post.idempotency_key)] = post
            count, _ = self._activity.get((post.platform, post.account_id), (0, post.created_at))
            self._activity[(post.platform, post.account_id)] = (count + 1, post.created_at)
            for media in post.media:
                self._media[(post.platform, media.id)] = replace(media, attached_to=post.remote_id)
            return post

    def accepted(self, platform: str) -> list[AcceptedPost]:
        """Every post the platform accepted, oldest first."""
        with self.lock:
            return list(self._posts.get(platform, ()))

    def post(self, platform: str, remote_id: str) -> AcceptedPost | None:
        with self.lock:
            return self._posts_by_id.get((platform, remote_id))

    def delete_post(self, platform: str, remote_id: str) -> AcceptedPost | None:
        """The author deleted the post: ``post`` and ``engagement`` no longer find it (each
        emulator answers with its platform's not-found); ``deleted`` still does."""
        with self.lock:
            post = self._posts_by_id.pop((platform, remote_id), None)
            if post is not None:
                self._deleted[(platform, remote_id)] = post
            return post

    def deleted(self, platform: str, remote_id: str) -> AcceptedPost | None:
        """A post its author deleted (platforms that keep a tombstone show it)."""
        with self.lock:
            return self._deleted.get((platform, remote_id))

    def set_engagement(self, platform: str, remote_id: str, spec: EngagementSpec) -> None:
        """Make the post report ``spec``'s counts from now on (see ``sandbox/engagement.py``)."""
        with self.lock:
            self._engagement[(platform, remote_id)] = spec

    def engagement(self, platform: str, remote_id: str) -> dict[str, int] | None:
        """The post's counts now, or None for a post the platform never accepted."""
        with self.lock:
            post = self._posts_by_id.get((platform, remote_id))
            if post is None:
                return None
            spec = self._engagement.get((platform, remote_id))
        return (spec or default_spec(remote_id, post.created_at)).at(self.now())

    def engagement_at(self, platform: str, remote_id: str, when: datetime) -> dict[str, int] | None:
        """The post's counts at ``when`` (never later than now), or None as ``engagement``."""
        with self.lock:
            post = self._posts_by_id.get((platform, remote_id))
            if post is None:
                return None
            spec = self._engagement.get((platform, remote_id))
        return (spec or default_spec(remote_id, post.created_at)).at(min(when, self.now()))

    def find_by_idempotency_key(
        self, platform: str, account_id: str, key: str, *, within_seconds: float
    ) -> AcceptedPost | None:
        """The post this account made with ``key`` no longer than ``within_seconds`` ago."""
        since = self.now() - timedelta(seconds=within_seconds)
        with self.lock:
            post = self._by_key.get((platform, account_id, key))
            return post if post is not None and post.created_at >= since else None

    def activity(self, platform: str, account_id: str) -> tuple[int, datetime | None]:
        """How many posts the account made, and when the last one was made."""
        with self.lock:
            count, last = self._activity.get((platform, account_id), (0, None))
            return count, last

    # -- media -------------------------------------------------------------------------
    def put_media(self, media: StoredMedia, data: bytes | None = None) -> StoredMedia:
        """Keep an uploaded file; with ``data``, its bytes too (oldest dropped past the
        bound of ``RECEIVED_BYTES_LIMIT`` in all)."""
        with self.lock:
            self._media[(media.platform, media.id)] = media
            if data is not None:
                self._bytes.pop(media.sha256, None)
                self._bytes[media.sha256] = data
                while sum(map(len, self._bytes.values())) > RECEIVED_BYTES_LIMIT:
                    del self._bytes[next(iter(self._bytes))]
            return media

    def received_bytes(self, sha256: str) -> bytes | None:
        """The bytes of a file a platform received, by digest (None if not kept)."""
        with self.lock:
            return self._bytes.get(sha256)

    def media(self, platform: str, media_id: str) -> StoredMedia | None:
        with self.lock:
            return self._media.get((platform, media_id))

    def update_media(self, platform: str, media_id: str, **changes: Any) -> StoredMedia:
        with self.lock:
            media = replace(self._media[(platform, media_id)], **changes)
            self._media[(platform, media_id)] = media
            return media

    # -- request counts ----------------------------------------------------------------
    def count_request(self, platform: str, endpoint: str) -> None:
        with self.lock:
            self._requests[platform][endpoint] += 1

    def request_counts(self, platform: str) -> dict[str, int]:
        """Requests seen per endpoint (``"POST /api/v1/statuses"``), faulted ones included."""
        with self.lock:
            return dict(self._requests.get(platform, {}))

    def request_count(self, platform: str, endpoint: str) -> int:
        with self.lock:
            return self._requests.get(platform, {}).get(endpoint, 0)

    # -- what an emulated server is configured with ---------------------------------------
    def configure(self, platform: str, **values: Any) -> None:
        """Set values of an emulated server's configuration (a Mastodon instance's
        ``max_characters``, the handles a Bluesky network knows); a reset forgets them."""
        with self.lock:
            self._settings[platform].update(values)

    def setting(self, platform: str, name: str, default: Any = None) -> Any:
        """One configured value, or ``default`` when it was never set."""
        with self.lock:
            return self._settings.get(platform, {}).get(name, default)

    # -- rate limits -------------------------------------------------------------------
    def override_rate_limit(
        self, platform: str, bucket: str, *, limit: int, per_seconds: float
    ) -> None:
        """Replace an emulator's default budget for one bucket (small limits keep tests fast)."""
        with self.lock:
            self._rate_overrides[(platform, bucket)] = (limit, per_seconds)

    def hit_rate_limit(
        self, platform: str, bucket: str, key: str, *, limit: int, per_seconds: float
    ) -> RateWindow:
        """Count one request of ``key`` in a fixed window aligned to the epoch, as Rack::Attack
        does; the emulator's ``limit`` and ``per_seconds`` yield to an override."""
        now = self.now()
        with self.lock:
            limit, per_seconds = self._rate_overrides.get((platform, bucket), (limit, per_seconds))
            period = max(1, int(per_seconds))
            window = int(now.timestamp()) // period
            slot = (platform, bucket, key)
            start, used = self._windows.get(slot, (window, 0))
            used = used + 1 if start == window else 1
            self._windows[slot] = (window, used)
        reset_at = datetime.fromtimestamp((window + 1) * period, tz=now.tzinfo)
        return RateWindow(limit=limit, used=used, reset_at=reset_at)
