"""SQLAlchemy 2 typed models of the app database (SQLite and PostgreSQL).

Times are stored in UTC (``UTCDateTime``); soft-deleted rows carry ``deleted_at``.

Which time is which, from the request to the platform call:

- ``Post.scheduled_at`` is the post's requested instant: the API's ``scheduledAt`` and the
  CLI's ``--at``, read in the given zone (else the workspace's) and stored in UTC. Code that
  has just parsed it calls it ``scheduled_at`` too.
- ``Schedule.run_at`` is the same instant for a single schedule (recurring and evergreen
  schedules have rules and slots instead, and ``expanded_until``: how far jobs exist).
- ``PublishJob.run_at`` is the instant one job is due, in UTC: the post's ``scheduled_at``,
  or one occurrence of a recurring schedule, or one account's posting slot (``next_slot``).
  It never moves once the job exists, except when a person reschedules the post.
- ``PublishJob.next_attempt_at`` is when the job may next be claimed: ``run_at`` at first,
  then the retry time (backoff, a platform's ``Retry-After``, a throttle or open breaker).
The hot queries each have an index: due jobs by (status, next_attempt_at), a partition's
due jobs by (workspace, platform, status, next_attempt_at), accounts by token expiry, and
a workspace's posts by time. Partial indexes are declared for PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from postiz_pipelines.clock import ensure_utc, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = ensure_utc(value)
        if dialect.name == "sqlite":
            # SQLite compares the stored text; one naive UTC format keeps ordering right.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else ensure_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON().with_variant(JSONB(), "postgresql"),
    }


class Platform(StrEnum):
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    X = "x"
    LINKEDIN = "linkedin"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    THREADS = "threads"
    TELEGRAM = "telegram"
    DISCORD = "discord"
    SLACK = "slack"
    YOUTUBE = "youtube"
    TIKTOK = "tiktok"
    PINTEREST = "pinterest"
    REDDIT = "reddit"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    # the platform itself said the grant is gone (invalid_grant, revoked, suspended): the
    # user must reconnect; jobs are held meanwhile, never failed one by one
    RECONNECT_NEEDED = "reconnect_needed"
    EXPIRED = "expired"  # legacy: read as reconnect_needed
    REVOKED = "revoked"  # legacy: read as reconnect_needed
    DISABLED = "disabled"


class PostStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    PARTIALLY_PUBLISHED = "partially_published"
    FAILED = "failed"
    CANCELED = "canceled"


class TargetStatus(StrEnum):
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELED = "canceled"


class JobStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    RETRYING = "retrying"
    CANCELED = "canceled"
    HELD = "held"  # its account needs reconnecting: not attempted, no attempt spent


TERMINAL_JOB_STATES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})
CLAIMABLE_JOB_STATES = (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RETRYING)


class AttemptOutcome(StrEnum):
    SENDING = "sending"  # intent written, platform call under way
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNCERTAIN = "uncertain"  # the call may have reached the platform (drop, timeout, death)


class ReadBack(StrEnum):
    """What an attempt's read-back (a look at the account's recent posts) learnt."""

    ABSENT = "absent"  # the look succeeded and found no such post: publishing is safe
    FOUND = "found"  # the post is live: the job completes without publishing again
    FAILED = "failed"  # the look itself failed: the post may be live, look again later


class ScheduleKind(StrEnum):
    SINGLE = "single"
    RECURRING = "recurring"
    EVERGREEN = "evergreen"


class ScheduleStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"


def _pending_states_sql() -> Any:
    return text("status IN ('pending', 'queued', 'retrying')")


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    slug: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # BCP-47 tag used where a platform wants the post's language and the account has none
    language: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class WorkspaceMember(Base):
    __tablename__ = "workspace_members"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SocialAccount(Base):
    __tablename__ = "social_accounts"
    __table_args__ = (
        Index(
            "uq_social_accounts_identity",
            "workspace_id",
            "platform",
            "external_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_social_accounts_token_expiry",
            "token_expires_at",
            postgresql_where=text("deleted_at IS NULL AND token_expires_at IS NOT NULL"),
            sqlite_where=text("deleted_at IS NULL AND token_expires_at IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    platform: Mapped[str] = mapped_column(String(24))
    handle: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    base_url: Mapped[str | None] = mapped_column(String(500))
    access_token_sealed: Mapped[str] = mapped_column(Text)
    refresh_token_sealed: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=AccountStatus.ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(String(300))
    status_changed_at: Mapped[datetime | None]
    # bumped by every token write: a refresher writes only if the version it read is current
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # one refresher at a time on backends without row locks (SQLite): owner and expiry
    refresh_lease_owner: Mapped[str | None] = mapped_column(String(200))
    refresh_lease_expires_at: Mapped[datetime | None]
    last_refreshed_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(35))  # BCP-47, for platforms' langs
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]

    def __repr__(self) -> str:  # never the sealed tokens
        return f"SocialAccount(id={self.id!r}, platform={self.platform!r}, handle={self.handle!r})"


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_workspace_time", "workspace_id", "scheduled_at", "id"),
        Index("ix_posts_workspace_created", "workspace_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    content: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(24), default=PostStatus.SCHEDULED)
    scheduled_at: Mapped[datetime | None]  # the requested instant (API ``scheduledAt``)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]

    targets: Mapped[list[PostTarget]] = relationship(
        back_populates="post", order_by="PostTarget.id", cascade="all, delete-orphan"
    )
    media: Mapped[list[PostMedia]] = relationship(
        order_by="PostMedia.position", cascade="all, delete-orphan"
    )


class PostTarget(Base):
    __tablename__ = "post_targets"
    __table_args__ = (UniqueConstraint("post_id", "account_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("social_accounts.id"), index=True)
    content_override: Mapped[str | None] = mapped_column(Text)
    settings_override: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=TargetStatus.SCHEDULED)
    remote_id: Mapped[str | None] = mapped_column(String(300))
    remote_url: Mapped[str | None] = mapped_column(String(1000))
    published_at: Mapped[datetime | None]

    post: Mapped[Post] = relationship(back_populates="targets")
    account: Mapped[SocialAccount] = relationship()


class MediaAsset(Base):
    __tablename__ = "media_assets"
    __table_args__ = (
        Index(
            "uq_media_assets_workspace_sha",
            "workspace_id",
            "sha256",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # image | video
    mime_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None]
    height: Mapped[int | None]
    duration_ms: Mapped[int | None]
    storage_key: Mapped[str] = mapped_column(String(500))
    original_filename: Mapped[str] = mapped_column(String(300), default="")
    alt_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]
    # measured at upload (width and height as displayed: EXIF orientation or video rotation
    # applied); None where the kind has no such thing
    frame_rate: Mapped[float | None] = mapped_column(Float)
    video_codec: Mapped[str | None] = mapped_column(String(32))
    audio_codec: Mapped[str | None] = mapped_column(String(32))
    bit_rate: Mapped[int | None] = mapped_column(BigInteger)
    animated: Mapped[bool] = mapped_column(default=False)


class MediaVariant(Base):
    """One asset prepared for one platform's limits: made once, reused by every later post.

    ``limits_fingerprint`` is a digest of the limits the variant was made for, so a change
    of a platform's limits makes a new variant. ``status`` is ``ready`` (``storage_key``
    holds the bytes; it may be the asset's own key when the original already fits) or
    ``failed`` (``error`` says which limit could not be met).
    """

    __tablename__ = "media_variants"
    __table_args__ = (UniqueConstraint("asset_id", "platform", "limits_fingerprint"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("media_assets.id"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    limits_fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # ready | failed
    mime_type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    width: Mapped[int | None]
    height: Mapped[int | None]
    duration_ms: Mapped[int | None]
    frame_rate: Mapped[float | None] = mapped_column(Float)
    video_codec: Mapped[str | None] = mapped_column(String(32))
    audio_codec: Mapped[str | None] = mapped_column(String(32))
    bit_rate: Mapped[int | None] = mapped_column(BigInteger)
    storage_key: Mapped[str | None] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64))
    steps: Mapped[str] = mapped_column(String(200), default="")  # e.g. "orient,resize,jpeg"
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostMedia(Base):
    __tablename__ = "post_media"

    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[str] = mapped_column(ForeignKey("media_assets.id"), index=True)

    asset: Mapped[MediaAsset] = relationship()


class Schedule(Base):
    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_active", "status", "kind"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    post_id: Mapped[str | None] = mapped_column(ForeignKey("posts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ScheduleStatus.ACTIVE)
    run_at: Mapped[datetime | None]  # single: the post's scheduled_at
    rrule: Mapped[str | None] = mapped_column(Text)  # recurring, RFC 5545
    cron: Mapped[str | None] = mapped_column(String(200))  # recurring, cron
    timezone: Mapped[str | None] = mapped_column(String(64))
    starts_at: Mapped[datetime | None]
    until: Mapped[datetime | None]
    count: Mapped[int | None]
    priority: Mapped[int] = mapped_column(Integer, default=0)
    grace_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    expanded_until: Mapped[datetime | None]
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]


class PublishJob(Base):
    """One post to one account at one instant. Its status, lease and attempt count are
    written only by ``core/publishing/queue.py``.

    ``attempts`` counts the tries that may have called the platform's publish endpoint
    (read-back-only passes are attempt rows, not publishes); ``max_attempts`` bounds it.
    """

    __tablename__ = "publish_jobs"
    __table_args__ = (
        Index(
            "ix_publish_jobs_due",
            "status",
            "next_attempt_at",
            postgresql_where=_pending_states_sql(),
            sqlite_where=_pending_states_sql(),
        ),
        Index(
            "ix_publish_jobs_partition_due",
            "workspace_id",
            "platform",
            "status",
            "next_attempt_at",
        ),
        Index(
            "ix_publish_jobs_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
        Index("ix_publish_jobs_post", "post_id"),
        Index("ix_publish_jobs_account_status", "account_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    platform: Mapped[str] = mapped_column(String(24))
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id"))
    target_id: Mapped[str] = mapped_column(ForeignKey("post_targets.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("social_accounts.id"))
    schedule_id: Mapped[str | None] = mapped_column(ForeignKey("schedules.id"), index=True)
    run_at: Mapped[datetime]  # the instant the job is due (UTC)
    next_attempt_at: Mapped[datetime]  # when it may next be claimed: run_at, then retry time
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=4)
    # schedule (or post) x occurrence x account: unique, and the key sent to the platform
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_class: Mapped[str | None] = mapped_column(String(40))
    remote_id: Mapped[str | None] = mapped_column(String(300))
    held_reason: Mapped[str | None] = mapped_column(String(40))  # why status is held
    held_at: Mapped[datetime | None]
    # what a try saved on the platform's side before waiting (a TikTok publish id, a YouTube
    # upload session), so the next try resumes instead of submitting again
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PublishAttempt(Base):
    """One pass of a job through the engine: a publish, a read-back then a publish, or a
    read-back alone (``readback`` says what the read-back learnt; None: none was made)."""

    __tablename__ = "publish_attempts"
    __table_args__ = (UniqueConstraint("job_id", "attempt_no"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("publish_jobs.id"))
    attempt_no: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    request_key: Mapped[str | None] = mapped_column(String(200))  # idempotency key sent
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16), default=AttemptOutcome.SENDING)
    http_status: Mapped[int | None]
    error_class: Mapped[str | None] = mapped_column(String(40))
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(300))
    remote_url: Mapped[str | None] = mapped_column(String(1000))
    duration_ms: Mapped[int | None]
    readback: Mapped[str | None] = mapped_column(String(16))  # ReadBack


class AnalyticsEvent(Base):
    __tablename__ = "analytics_events"
    __table_args__ = (
        Index("ix_analytics_events_workspace_time", "workspace_id", "occurred_at"),
        Index("ix_analytics_events_type_time", "event_type", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    workspace_id: Mapped[str | None] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(48))
    occurred_at: Mapped[datetime]
    platform: Mapped[str | None] = mapped_column(String(24))
    account_id: Mapped[str | None] = mapped_column(String(40))
    post_id: Mapped[str | None] = mapped_column(String(40))
    job_id: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_workspace_time", "workspace_id", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    workspace_id: Mapped[str | None] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(40))
    at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


# -- connect flows --


class OAuthState(Base):
    """One authorization request in flight: bound to a user and a workspace, single use,
    short-lived. Only the hash of ``state`` is stored; the PKCE verifier is sealed."""

    __tablename__ = "oauth_states"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(24))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    code_verifier_sealed: Mapped[str | None] = mapped_column(Text)
    redirect_uri: Mapped[str] = mapped_column(String(1000))
    # flow details that must survive the round trip: the instance, the page to return to
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class OAuthApp(Base):
    """A client registration we made on a platform instance (Mastodon ``POST /api/v1/apps``),
    stored and reused per instance and redirect URI."""

    __tablename__ = "oauth_apps"
    __table_args__ = (UniqueConstraint("platform", "instance", "redirect_uri"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    platform: Mapped[str] = mapped_column(String(24))
    instance: Mapped[str] = mapped_column(String(500))  # base URL, lower-case, no slash
    redirect_uri: Mapped[str] = mapped_column(String(1000))
    client_id: Mapped[str] = mapped_column(String(500))
    client_secret_sealed: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- engine tables --


class QuotaLedger(Base):
    """Units spent against a platform's daily budget (YouTube's per-project quota), shared by
    every run and worker: ``scope`` is ``platform:<name>`` or ``account:<id>``, ``period`` the
    platform's own day (YouTube resets at midnight Pacific)."""

    __tablename__ = "quota_ledger"

    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    units_used: Mapped[int] = mapped_column(Integer, default=0)
    budget: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Throttle(Base):
    """A wait imposed by a platform (429, reset headers), kept so every run and worker obeys it.

    ``scope`` is ``account:<id>`` or ``platform:<name>``.
    """

    __tablename__ = "throttles"

    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    blocked_until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker(Base):
    """One platform's circuit breaker, shared by every run and worker through the database."""

    __tablename__ = "circuit_breakers"

    platform: Mapped[str] = mapped_column(String(24), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=BreakerState.CLOSED)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    opened_count: Mapped[int] = mapped_column(Integer, default=0)  # in a row, for the cooldown
    open_until: Mapped[datetime | None]
    probe_owner: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkerHeartbeat(Base):
    """A continuous worker's health, written every poll."""

    __tablename__ = "worker_heartbeats"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # starting | running | stopping | stopped
    started_at: Mapped[datetime]
    last_beat_at: Mapped[datetime]
    published: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    retried: Mapped[int] = mapped_column(Integer, default=0)
    passes: Mapped[int] = mapped_column(Integer, default=0)


# -- evergreen tables --


class EvergreenPost(Base):
    """A reusable post of a workspace's evergreen library, in one category."""

    __tablename__ = "evergreen_posts"
    __table_args__ = (Index("ix_evergreen_posts_workspace_category", "workspace_id", "category"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    category: Mapped[str] = mapped_column(String(100))
    variations: Mapped[list[str]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    max_uses: Mapped[int | None]
    uses: Mapped[int] = mapped_column(Integer, default=0)
    last_published_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    cooldown_seconds: Mapped[int | None]
    last_variation_by_account: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class EvergreenTimetable(Base):
    """A workspace's weekly evergreen slots, the accounts they publish to, and the rules."""

    __tablename__ = "evergreen_timetables"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedules.id"))
    slots: Mapped[list[Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    account_ids: Mapped[list[Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    timezone: Mapped[str | None] = mapped_column(String(64))
    cooldown_seconds: Mapped[int] = mapped_column(Integer, default=0)
    shuffle: Mapped[bool] = mapped_column(default=False)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    paused_categories: Mapped[list[Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# -- API tables --


class IdempotencyRecord(Base):
    """The stored answer to a client's POST sent with an ``Idempotency-Key``, per user."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class WebhookSubscription(Base):
    """An outgoing webhook of one workspace: where to send which post lifecycle events."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    url: Mapped[str] = mapped_column(String(1000))
    events: Mapped[str] = mapped_column(String(200))  # comma-separated event names
    secret_sealed: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)  # fan-out cursor
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]

    def __repr__(self) -> str:  # never the sealed secret
        return f"WebhookSubscription(id={self.id!r}, url={self.url!r})"


class WebhookDelivery(Base):
    """One event to send to one subscription, retried with backoff until delivered or failed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    workspace_id: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
