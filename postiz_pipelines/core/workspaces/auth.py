"""Users, workspace roles and API tokens.

An API token reads ``pz_<43 url-safe characters>`` (256 random bits). Only its SHA-256 is
stored; the plain token is returned once, at creation. Verification looks the hash up
through its unique index and then compares digests in constant time, so neither the
lookup nor the comparison tells an attacker how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import ApiToken, Role, User, Workspace, WorkspaceMember
from postiz_pipelines.errors import Conflict, NotFound, Problem, ValidationFailed

TOKEN_PREFIX = "pz_"
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
MAX_TOKEN_DAYS = 3650

# Higher rank includes every right of the lower ones.
ROLE_RANK: dict[str, int] = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3, Role.OWNER: 4}


def role_allows(role: str | None, needed: Role | str) -> bool:
    """True when ``role`` carries at least the rights of ``needed``."""
    return role is not None and ROLE_RANK.get(role, 0) >= ROLE_RANK[needed]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_role(role: str, field: str = "role") -> None:
    if role not in ROLE_RANK:
        raise ValidationFailed(
            Problem(field, f"unknown role {role!r}; one of: owner, admin, editor, viewer", role)
        )


# -- users -----------------------------------------------------------------------------
def create_user(
    session: Session, *, email: str, name: str = "", now: datetime, actor: str = "system"
) -> User:
    """A new user; the email is stored lower-cased and must be unused."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise ValidationFailed(Problem("email", "is not an email address", email))
    if len(name) > 200:
        raise ValidationFailed(
            Problem("name", f"is {len(name)} characters, limit 200", len(name), 200)
        )
    if session.scalar(select(User.id).where(User.email == email)):
        raise ValidationFailed(Problem("email", f"a user with email {email!r} exists", email))
    user = User(id=new_id("usr"), email=email, name=name, created_at=now)
    session.add(user)
    session.flush()
    audit(
        session, actor=actor, action="user.create", object_type="user", object_id=user.id, now=now
    )
    return user


def get_user(session: Session, ref: str) -> User:
    """A live user by id or email."""
    user = session.scalar(
        select(User).where(
            (User.id == ref) | (User.email == ref.strip().lower()), User.deleted_at.is_(None)
        )
    )
    if user is None:
        raise NotFound("user", ref)
    return user


# -- memberships -----------------------------------------------------------------------
def role_of(session: Session, *, user_id: str, workspace_id: str) -> str | None:
    """The user's role in a live workspace, or None when not a member."""
    return session.scalar(
        select(WorkspaceMember.role)
        .join(Workspace, Workspace.id == WorkspaceMember.workspace_id)
        .where(
            WorkspaceMember.user_id == user_id,
            WorkspaceMember.workspace_id == workspace_id,
            Workspace.deleted_at.is_(None),
        )
    )


def memberships(session: Session, user_id: str) -> dict[str, str]:
    """Workspace id -> role, for every live workspace the user belongs to."""
    rows = session.execute(
        select(WorkspaceMember.workspace_id, WorkspaceMember.role)
        .join(Workspace, Workspace.id == WorkspaceMember.workspace_id)
        .where(WorkspaceMember.user_id == user_id, Workspace.deleted_at.is_(None))
    )
    return {ws: role for ws, role in rows}


def list_members(session: Session, workspace_id: str) -> list[tuple[WorkspaceMember, User]]:
    return list(
        session.execute(
            select(WorkspaceMember, User)
            .join(User, User.id == WorkspaceMember.user_id)
            .where(WorkspaceMember.workspace_id == workspace_id)
            .order_by(User.email)
        ).all()
    )


def set_member(
    session: Session,
    *,
    workspace_id: str,
    user_id: str,
    role: str,
    now: datetime,
    actor: str = "system",
) -> WorkspaceMember:
    """Add the user to the workspace with ``role``, or change their role.

    Demoting the last owner is a Conflict: a workspace always keeps one.
    """
    _check_role(role)
    member = session.get(WorkspaceMember, (workspace_id, user_id))
    if member is None:
        member = WorkspaceMember(
            workspace_id=workspace_id, user_id=user_id, role=role, created_at=now
        )
        session.add(member)
        action = "member.add"
    else:
        if member.role == Role.OWNER and role != Role.OWNER:
            _keep_an_owner(session, workspace_id)
        member.role = role
        action = "member.role"
    session.flush()
    audit(
        session,
        actor=actor,
        action=action,
        object_type="user",
        object_id=user_id,
        workspace_id=workspace_id,
        now=now,
        role=role,
    )
    return member


def remove_member(
    session: Session, *, workspace_id: str, user_id: str, now: datetime, actor: str = "system"
) -> None:
    member = session.get(WorkspaceMember, (workspace_id, user_id))
    if member is None:
        raise NotFound("member", user_id)
    if member.role == Role.OWNER:
        _keep_an_owner(session, workspace_id)
    session.delete(member)
    audit(
        session,
        actor=actor,
        action="member.remove",
        object_type="user",
        object_id=user_id,
        workspace_id=workspace_id,
        now=now,
    )


def _keep_an_owner(session: Session, workspace_id: str) -> None:
    owners = session.scalar(
        select(func.count())
        .select_from(WorkspaceMember)
        .where(WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.role == Role.OWNER)
    )
    if (owners or 0) <= 1:
        raise Conflict("a workspace must keep at least one owner; make someone else owner first")


# -- API tokens ------------------------------------------------------------------------
@dataclass(frozen=True)
class IssuedToken:
    """A token just created: ``token`` is the only time the plain value exists."""

    row: ApiToken
    token: str

    def __repr__(self) -> str:
        return f"IssuedToken(id={self.row.id!r}, prefix={self.row.prefix!r})"


def create_token(
    session: Session,
    *,
    user_id: str,
    name: str,
    now: datetime,
    expires_in_days: int | None = None,
    actor: str = "system",
) -> IssuedToken:
    """Issue a token for ``user_id``; only its hash is stored."""
    problems = []
    if not name.strip() or len(name) > 200:
        problems.append(Problem("name", "must be 1-200 characters", len(name), 200))
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        problems.append(
            Problem("expiresInDays", f"must be 1-{MAX_TOKEN_DAYS}", expires_in_days, MAX_TOKEN_DAYS)
        )
    if problems:
        raise ValidationFailed(problems)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        id=new_id("tok"),
        user_id=user_id,
        name=name.strip(),
        token_hash=hash_token(token),
        prefix=token[:10],
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        actor=actor,
        action="token.create",
        object_type="api_token",
        object_id=row.id,
        now=now,
        user_id=user_id,
        name=row.name,
    )
    return IssuedToken(row=row, token=token)


def verify_token(session: Session, token: str, *, now: datetime) -> tuple[User, ApiToken] | None:
    """The live user and token behind ``token``; None for unknown, revoked or expired tokens."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    user = session.get(User, row.user_id)
    if user is None or user.deleted_at is not None:
        return None
    return user, row


def touch_token(session: Session, token_id: str, *, now: datetime) -> None:
    """Record use, at most once a minute per token (a write per request would be waste)."""
    row = session.get(ApiToken, token_id)
    if row is not None and (
        row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1)
    ):
        row.last_used_at = now


def list_tokens(session: Session, user_id: str) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id)
            .order_by(ApiToken.created_at, ApiToken.id)
        )
    )


def revoke_token(
    session: Session, *, token_id: str, user_id: str | None, now: datetime, actor: str = "system"
) -> ApiToken:
    """Revoke a token; with ``user_id`` only that user's own (another's is NotFound)."""
    q = select(ApiToken).where(ApiToken.id == token_id)
    if user_id is not None:
        q = q.where(ApiToken.user_id == user_id)
    row = session.scalar(q)
    if row is None:
        raise NotFound("token", token_id)
    if row.revoked_at is None:
        row.revoked_at = now
        audit(
            session,
            actor=actor,
            action="token.revoke",
            object_type="api_token",
            object_id=row.id,
            now=now,
            user_id=row.user_id,
        )
    return row


def keys_match(given: str | None, expected: str | None) -> bool:
    """Compare a presented key with the configured one in constant time; unset never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
