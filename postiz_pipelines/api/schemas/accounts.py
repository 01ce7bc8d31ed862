"""Connected social accounts (tokens go in, never come out) and their weekly posting slots.
Weekdays count from Monday = 0 to Sunday = 6; times are local "HH:MM" on the account's zone.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from postiz_pipelines.api.schemas.base import MAX_SLOTS, Id, In, Out, iso
from postiz_pipelines.core.accounts.status import effective_status
from postiz_pipelines.core.models import SocialAccount


class AccountCreate(In):
    workspace_id: Id = Field(min_length=1, max_length=64)
    platform: str = Field(min_length=1, max_length=24)
    handle: str = Field(min_length=1, max_length=200)
    access_token: str = Field(min_length=1, max_length=10_000)
    refresh_token: str | None = Field(default=None, max_length=10_000)
    expires_at: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=200)
    base_url: str | None = Field(default=None, max_length=500)
    display_name: str = Field(default="", max_length=200)
    settings: dict[str, Any] = Field(default_factory=dict)


class AccountOut(Out):
    id: Id
    workspace_id: Id
    platform: str
    handle: str
    display_name: str
    external_id: str
    status: str  # legacy expired/revoked read as reconnect_needed
    status_reason: str | None = None
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
            status=effective_status(a.status),
            status_reason=a.status_reason,
            base_url=a.base_url,
            token_expires_at=iso(a.token_expires_at),
            created_at=a.created_at.isoformat(),
        )


class AccountList(Out):
    accounts: list[AccountOut]


class PostingSlotIn(In):
    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    time: str = Field(max_length=16, description="local HH:MM")


class AccountSlotsIn(In):
    slots: list[PostingSlotIn] = Field(max_length=MAX_SLOTS)


class AccountSlotsOut(Out):
    account_id: Id
    slots: list[dict[str, Any]]
