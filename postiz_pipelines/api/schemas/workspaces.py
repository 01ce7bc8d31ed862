"""Workspaces and their members."""

from __future__ import annotations

from pydantic import Field

from postiz_pipelines.api.schemas.base import Id, In, Out, RoleName
from postiz_pipelines.core.models import Workspace


class WorkspaceCreate(In):
    slug: str = Field(min_length=1, max_length=48)
    name: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    language: str | None = Field(
        default=None,
        max_length=64,
        description="BCP-47 tag (en, pt-BR); the post language platforms get when an account "
        "has none (Bluesky langs)",
    )


class WorkspacePatch(In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    language: str | None = Field(
        default=None,
        max_length=64,
        description="BCP-47 tag (en, pt-BR); the post language platforms get when an account "
        'has none (Bluesky langs); "" clears it',
    )


class WorkspaceOut(Out):
    id: Id
    slug: str
    name: str
    timezone: str | None
    language: str | None = None
    role: str | None = None

    @classmethod
    def of(cls, w: Workspace, role: str | None = None) -> WorkspaceOut:
        return cls(
            id=w.id, slug=w.slug, name=w.name, timezone=w.timezone, language=w.language, role=role
        )


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
