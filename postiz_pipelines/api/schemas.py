"""Request and response bodies. JSON names are camelCase (the seed's ``scheduledAt``,
``targetAccounts``...); unknown request fields are refused so a typo never goes unnoticed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from postiz_pipelines.core.models import (
    ApiToken,
    MediaAsset,
    Post,
    PublishAttempt,
    PublishJob,
    SocialAccount,
    WebhookDelivery,
    WebhookSubscription,
    Workspace,
)

Id = str
RoleName = Literal["owner", "admin", "editor", "viewer"]
MAX_TEXT = 100_000


class In(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# -- posts -------------------------------------------------------------------------------
class SingleSchedule(In):
    """When to publish once. Other kinds (recurring, evergreen) join this union later."""

    kind: Literal["single"]
    at: str | None = Field(None, max_length=64, description="ISO 8601; omit for now")
    timezone: str | None = Field(None, max_length=64)


class TargetOverrideIn(In):
    content: str | None = Field(None, max_length=MAX_TEXT)
    settings: dict[str, Any] = Field(default_factory=dict)


class PostCreate(In):
    content: str = Field(max_length=MAX_TEXT)
    workspace_id: Id = Field(min_length=1, max_length=64)
    target_accounts: list[Id] = Field(min_length=1, max_length=50)
    scheduled_at: str | None = Field(
        None,
        max_length=64,
        description="ISO 8601 with offset, or local time with timezone; omit for now",
    )
    timezone: str | None = Field(
        None, max_length=64, description="IANA zone for a scheduledAt without offset"
    )
    schedule: SingleSchedule | None = None
    media_ids: list[Id] = Field(default_factory=list, max_length=20)
    settings: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[Id, TargetOverrideIn] = Field(
        default_factory=dict, description="per target account"
    )
    thread: list[str] = Field(default_factory=list, max_length=25)
    priority: int = Field(0, ge=-100, le=100)


class PostPatch(In):
    content: str | None = Field(None, max_length=MAX_TEXT)
    scheduled_at: str | None = Field(None, max_length=64)
    timezone: str | None = Field(None, max_length=64)
    media_ids: list[Id] | None = Field(None, max_length=20)
    settings: dict[str, Any] | None = None
    overrides: dict[Id, TargetOverrideIn] | None = None


class RetryIn(In):
    at: str | None = Field(None, max_length=64, description="ISO 8601; omit for now")
    force: bool = Field(False, description="requeue jobs whose outcome is uncertain (you checked)")


class RescheduleIn(In):
    at: str = Field(max_length=64)
    force: bool = False


class TargetOut(Out):
    id: Id
    account_id: Id
    platform: str | None
    status: str
    content_override: str | None
    settings_override: dict[str, Any]
    remote_id: str | None
    remote_url: str | None
    published_at: str | None


class PostOut(Out):
    id: Id
    workspace_id: Id
    content: str
    status: str
    scheduled_at: str | None
    settings: dict[str, Any]
    media_ids: list[Id]
    targets: list[TargetOut]
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, p: Post) -> PostOut:
        return cls(
            id=p.id,
            workspace_id=p.workspace_id,
            content=p.content,
            status=p.status,
            scheduled_at=_iso(p.scheduled_at),
            settings=dict(p.settings or {}),
            media_ids=[m.media_id for m in p.media],
            targets=[
                TargetOut(
                    id=t.id,
                    account_id=t.account_id,
                    platform=t.account.platform if t.account else None,
                    status=t.status,
                    content_override=t.content_override,
                    settings_override=dict(t.settings_override or {}),
                    remote_id=t.remote_id,
                    remote_url=t.remote_url,
                    published_at=_iso(t.published_at),
                )
                for t in p.targets
            ],
            created_at=p.created_at.isoformat(),
            updated_at=p.updated_at.isoformat(),
        )


class Pagination(Out):
    page: int | None
    limit: int
    has_more: bool
    next_cursor: str | None


class PostList(Out):
    posts: list[PostOut]
    pagination: Pagination


class JobOut(Out):
    id: Id
    post_id: Id
    workspace_id: Id
    account_id: Id
    platform: str
    status: str
    attempts: int
    max_attempts: int
    run_at: str
    next_attempt_at: str
    last_error: str | None
    last_error_class: str | None
    remote_id: str | None
    completed_at: str | None

    @classmethod
    def of(cls, j: PublishJob) -> JobOut:
        return cls(
            id=j.id,
            post_id=j.post_id,
            workspace_id=j.workspace_id,
            account_id=j.account_id,
            platform=j.platform,
            status=j.status,
            attempts=j.attempts,
            max_attempts=j.max_attempts,
            run_at=j.run_at.isoformat(),
            next_attempt_at=j.next_attempt_at.isoformat(),
            last_error=j.last_error,
            last_error_class=j.last_error_class,
            remote_id=j.remote_id,
            completed_at=_iso(j.completed_at),
        )


class JobList(Out):
    jobs: list[JobOut]
    next_cursor: str | None


class AttemptOut(Out):
    job_id: Id
    account_id: Id
    platform: str
    attempt_no: int
    outcome: str
    started_at: str
    finished_at: str | None
    http_status: int | None
    error_class: str | None
    error_code: str | None
    error_message: str | None
    remote_id: str | None
    remote_url: str | None
    duration_ms: int | None

    @classmethod
    def of(cls, a: PublishAttempt, j: PublishJob) -> AttemptOut:
        return cls(
            job_id=j.id,
            account_id=j.account_id,
            platform=j.platform,
            attempt_no=a.attempt_no,
            outcome=a.outcome,
            started_at=a.started_at.isoformat(),
            finished_at=_iso(a.finished_at),
            http_status=a.http_status,
            error_class=a.error_class,
            error_code=a.error_code,
            error_message=a.error_message,
            remote_id=a.remote_id,
            remote_url=a.remote_url,
            duration_ms=a.duration_ms,
        )


class AttemptList(Out):
    attempts: list[AttemptOut]


# -- media -------------------------------------------------------------------------------
class MediaOut(Out):
    id: Id
    workspace_id: Id
    kind: str
    mime_type: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    duration_ms: int | None
    original_filename: str
    alt_text: str
    created_at: str
    deduplicated: bool = False

    @classmethod
    def of(cls, m: MediaAsset, deduplicated: bool = False) -> MediaOut:
        return cls(
            id=m.id,
            workspace_id=m.workspace_id,
            kind=m.kind,
            mime_type=m.mime_type,
            size_bytes=m.size_bytes,
            sha256=m.sha256,
            width=m.width,
            height=m.height,
            duration_ms=m.duration_ms,
            original_filename=m.original_filename,
            alt_text=m.alt_text,
            created_at=m.created_at.isoformat(),
            deduplicated=deduplicated,
        )


class MediaList(Out):
    media: list[MediaOut]
    next_cursor: str | None


# -- accounts, workspaces, members, tokens ----------------------------------------------
class AccountCreate(In):
    workspace_id: Id = Field(min_length=1, max_length=64)
    platform: str = Field(min_length=1, max_length=24)
    handle: str = Field(min_length=1, max_length=200)
    access_token: str = Field(min_length=1, max_length=10_000)
    refresh_token: str | None = Field(None, max_length=10_000)
    expires_at: str | None = Field(None, max_length=64)
    external_id: str | None = Field(None, max_length=200)
    base_url: str | None = Field(None, max_length=500)
    display_name: str = Field("", max_length=200)
    settings: dict[str, Any] = Field(default_factory=dict)


class AccountOut(Out):
    id: Id
    workspace_id: Id
    platform: str
    handle: str
    display_name: str
    external_id: str
    status: str
    base_url: str | None
    token_expires_at: str | None
    created_at: str

    @classmethod
    def of(cls, a: SocialAccount) -> AccountOut:
        return cls(
            id=a.id,
            workspace_id=a.workspace_id,
            platform=a.platform,
            handle=a.handle,
            display_name=a.display_name,
            external_id=a.external_id,
            status=a.status,
            base_url=a.base_url,
            token_expires_at=_iso(a.token_expires_at),
            created_at=a.created_at.isoformat(),
        )


class AccountList(Out):
    accounts: list[AccountOut]


class WorkspaceCreate(In):
    slug: str = Field(min_length=1, max_length=48)
    name: str | None = Field(None, max_length=200)
    timezone: str | None = Field(None, max_length=64)


class WorkspacePatch(In):
    name: str | None = Field(None, min_length=1, max_length=200)
    timezone: str | None = Field(None, max_length=64)


class WorkspaceOut(Out):
    id: Id
    slug: str
    name: str
    timezone: str | None
    role: str | None = None

    @classmethod
    def of(cls, w: Workspace, role: str | None = None) -> WorkspaceOut:
        return cls(id=w.id, slug=w.slug, name=w.name, timezone=w.timezone, role=role)


class WorkspaceList(Out):
    workspaces: list[WorkspaceOut]


class MemberIn(In):
    email: str = Field(min_length=3, max_length=320)
    role: RoleName


class MemberPatch(In):
    role: RoleName


class MemberOut(Out):
    user_id: Id
    email: str
    role: str


class MemberList(Out):
    members: list[MemberOut]


class TokenCreate(In):
    name: str = Field(min_length=1, max_length=200)
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class TokenOut(Out):
    id: Id
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None
    expires_at: str | None
    revoked_at: str | None

    @classmethod
    def of(cls, t: ApiToken) -> TokenOut:
        return cls(
            id=t.id,
            name=t.name,
            prefix=t.prefix,
            created_at=t.created_at.isoformat(),
            last_used_at=_iso(t.last_used_at),
            expires_at=_iso(t.expires_at),
            revoked_at=_iso(t.revoked_at),
        )


class TokenCreated(TokenOut):
    token: str = Field(description="shown this once; store it now")


class TokenList(Out):
    tokens: list[TokenOut]


class MeOut(Out):
    id: Id
    email: str
    workspaces: list[WorkspaceOut]


# -- webhooks ----------------------------------------------------------------------------
class WebhookCreate(In):
    workspace_id: Id = Field(min_length=1, max_length=64)
    url: str = Field(min_length=8, max_length=1000)
    events: list[Literal["post.published", "post.failed", "post.canceled"]] | None = None


class WebhookOut(Out):
    id: Id
    workspace_id: Id
    url: str
    events: list[str]
    status: str
    created_at: str

    @classmethod
    def of(cls, w: WebhookSubscription) -> WebhookOut:
        return cls(
            id=w.id,
            workspace_id=w.workspace_id,
            url=w.url,
            events=w.events.split(","),
            status=w.status,
            created_at=w.created_at.isoformat(),
        )


class WebhookCreated(WebhookOut):
    secret: str = Field(description="signing secret (Standard Webhooks), shown this once")


class WebhookList(Out):
    webhooks: list[WebhookOut]


class DeliveryOut(Out):
    id: Id
    event_type: str
    event_id: int
    status: str
    attempts: int
    next_attempt_at: str
    last_status_code: int | None
    last_error: str | None
    delivered_at: str | None

    @classmethod
    def of(cls, d: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=d.id,
            event_type=d.event_type,
            event_id=d.event_id,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at.isoformat(),
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            delivered_at=_iso(d.delivered_at),
        )


class DeliveryList(Out):
    deliveries: list[DeliveryOut]


# -- worker ------------------------------------------------------------------------------
class WorkerProcessIn(In):
    max_jobs: int = Field(10, ge=1, le=1000)
    include_scheduler: bool = False
    workspace_id: Id | None = Field(None, max_length=64)
    platform: str | None = Field(None, max_length=24)
