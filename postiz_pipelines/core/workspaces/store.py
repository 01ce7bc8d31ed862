"""Workspaces (brands, clients): create, find, list."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.clock import zone_problem
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import Workspace
from postiz_pipelines.errors import NotFound, Problem, ValidationFailed
from postiz_pipelines.providers.atproto import is_language_tag

MAX_LANGUAGE = 35  # the column's width, ample for any BCP-47 tag in use
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$")


def check_zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA zone ``name``, or ValidationFailed naming ``field`` (never the server's zone)."""
    problem = zone_problem(name, field)
    if problem is not None:
        raise ValidationFailed(problem)
    return ZoneInfo(name)


def language_problem(tag: str, field: str = "language") -> Problem | None:
    """Why ``tag`` is not a BCP-47 language tag (``en``, ``pt-BR``, ``zh-Hant``), else None."""
    if len(tag) > MAX_LANGUAGE:
        return Problem(field, f"is {len(tag)} characters, limit {MAX_LANGUAGE}", tag, MAX_LANGUAGE)
    if not is_language_tag(tag):
        hint = f"; write {tag.replace('_', '-')!r}" if "_" in tag else ""
        return Problem(
            field,
            f"{tag!r} is not a BCP-47 language tag (like en, pt-BR, zh-Hant){hint}",
            tag,
        )
    return None


def check_language(tag: str, field: str = "language") -> str:
    """``tag`` when it is a BCP-47 language tag, else ValidationFailed naming ``field``."""
    problem = language_problem(tag, field)
    if problem is not None:
        raise ValidationFailed(problem)
    return tag


def create_workspace(
    session: Session,
    *,
    slug: str,
    name: str | None = None,
    timezone: str | None = None,
    language: str | None = None,
    now: datetime,
    actor: str = "system",
) -> Workspace:
    problems = []
    if not SLUG_RE.match(slug):
        problems.append(
            Problem(
                "slug", "must be 1-48 of a-z, 0-9 and '-', not starting or ending with '-'", slug
            )
        )
    elif session.scalar(select(Workspace.id).where(Workspace.slug == slug)):
        problems.append(Problem("slug", f"workspace {slug!r} already exists", slug))
    if timezone:
        try:
            check_zone(timezone)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
    if name is not None and len(name) > 200:
        problems.append(Problem("name", f"is {len(name)} characters, limit 200", len(name), 200))
    if language and (lang_issue := language_problem(language)) is not None:
        problems.append(lang_issue)
    if problems:
        raise ValidationFailed(problems)
    ws = Workspace(
        id=new_id("ws"),
        slug=slug,
        name=name or slug,
        timezone=timezone,
        language=language or None,
        created_at=now,
    )
    session.add(ws)
    session.flush()
    audit(
        session,
        actor=actor,
        action="workspace.create",
        object_type="workspace",
        object_id=ws.id,
        workspace_id=ws.id,
        now=now,
        slug=slug,
    )
    return ws


def get_workspace(session: Session, ref: str) -> Workspace:
    """A live workspace by id or slug."""
    ws = session.scalar(
        select(Workspace).where(
            (Workspace.id == ref) | (Workspace.slug == ref), Workspace.deleted_at.is_(None)
        )
    )
    if ws is None:
        raise NotFound("workspace", ref)
    return ws


def list_workspaces(session: Session) -> list[Workspace]:
    return list(
        session.scalars(
            select(Workspace).where(Workspace.deleted_at.is_(None)).order_by(Workspace.slug)
        )
    )
