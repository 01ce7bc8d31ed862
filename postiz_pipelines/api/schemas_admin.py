"""Request and response bodies of the administrative resources: accounts, workspaces and
members, API tokens, webhooks. Same conventions as ``schemas``: camelCase, unknown fields refused.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from postiz_pipelines.api.schemas import Id, In, Out, RoleName, iso
from postiz_pipelines.core.models import (
    ApiToken,
    SocialAccount,
    WebhookDelivery,
    WebhookSubscription,
    Workspace,
)


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
            token_expires_at=iso(a.token_expires_at),
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
            last_used_at=iso(t.last_used_at),
            expires_at=iso(t.expires_at),
            revoked_at=iso(t.revoked_at),
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
            delivered_at=iso(d.delivered_at),
        )


class DeliveryList(Out):
    deliveries: list[DeliveryOut]
