"""The caller (``/me``) and their API tokens (a token's value is shown once)."""

from __future__ import annotations

from pydantic import Field

from postiz_pipelines.api.schemas.base import Id, In, Out, iso
from postiz_pipelines.api.schemas.workspaces import WorkspaceOut
from postiz_pipelines.core.models import ApiToken


class TokenCreate(In):
    name: str = Field(min_length=1, max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


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
