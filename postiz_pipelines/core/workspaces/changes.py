"""Workspace changes made through the API: create with an owner, rename, change time zone
or language."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.models import Role, Workspace
from postiz_pipelines.core.workspaces.auth import set_member
from postiz_pipelines.core.workspaces.store import check_language, check_zone, create_workspace
from postiz_pipelines.errors import Problem, ValidationFailed


def create_owned_workspace(
    session: Session,
    *,
    slug: str,
    name: str | None,
    timezone: str | None,
    owner_id: str,
    now: datetime,
    language: str | None = None,
    actor: str = "system",
) -> Workspace:
    """A new workspace with ``owner_id`` as its owner, in one transaction."""
    ws = create_workspace(
        session, slug=slug, name=name, timezone=timezone, language=language, now=now, actor=actor
    )
    set_member(session, workspace_id=ws.id, user_id=owner_id, role=Role.OWNER, now=now, actor=actor)
    return ws


def update_workspace(
    session: Session,
    ws: Workspace,
    *,
    name: str | None = None,
    timezone: str | None = None,
    language: str | None = None,
    now: datetime,
    actor: str = "system",
) -> Workspace:
    """Rename, change the time zone (used for times given without an offset) and/or the
    language (BCP-47; platforms' language default when an account has none; ``""`` clears
    it)."""
    if name is not None and not 1 <= len(name.strip()) <= 200:
        raise ValidationFailed(Problem("name", "must be 1-200 characters", len(name), 200))
    if timezone is not None:
        check_zone(timezone)
    if language:
        check_language(language)
    changed = {}
    if language is not None:
        ws.language = language or None
        changed["language"] = language
    if name is not None:
        ws.name = name.strip()
        changed["name"] = ws.name
    if timezone is not None:
        ws.timezone = timezone
        changed["timezone"] = timezone
    audit(
        session,
        actor=actor,
        action="workspace.update",
        object_type="workspace",
        object_id=ws.id,
        workspace_id=ws.id,
        now=now,
        **changed,
    )
    return ws
