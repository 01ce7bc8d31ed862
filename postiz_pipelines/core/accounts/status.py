"""An account's connection status: the one rule for "the user must reconnect".

Only the platform's own permanent answer (``invalid_grant``, revoked, suspended, a deauthorize
webhook) moves an account to ``reconnect_needed``; ``mark_reconnect_needed`` does it, fenced
on the status it starts from so two callers at once disconnect it once, and the first one
records the ``account_disconnected`` event (sent as the ``account.disconnected`` webhook) and
an audit row. The legacy statuses ``expired`` and ``revoked`` are read as ``reconnect_needed``
everywhere. Holding the account's jobs is ``core/publishing/hold.py``'s part.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import AccountStatus, SocialAccount

# statuses that all mean "the user must reconnect" (expired and revoked are legacy names)
NEEDS_RECONNECT = frozenset(
    {AccountStatus.RECONNECT_NEEDED, AccountStatus.EXPIRED, AccountStatus.REVOKED}
)


def needs_reconnect(status: str) -> bool:
    """Whether an account status means the user must reconnect (legacy names included)."""
    return status in NEEDS_RECONNECT


def effective_status(status: str) -> str:
    """The status as shown and acted on: legacy ``expired``/``revoked`` read as
    ``reconnect_needed``."""
    return AccountStatus.RECONNECT_NEEDED.value if needs_reconnect(status) else str(status)


def mark_reconnect_needed(
    session: Session,
    account: SocialAccount,
    *,
    reason: str,
    now: datetime,
    actor: str,
    error_class: str = "auth_revoked",
    held_jobs: int | None = None,
) -> bool:
    """Move the account to ``reconnect_needed``; the first time only, record
    ``account_disconnected`` and an audit row. Returns whether this call disconnected it."""
    if account.deleted_at is not None or account.status == AccountStatus.DISABLED:
        return False
    result = session.execute(
        update(SocialAccount)
        .where(
            SocialAccount.id == account.id,
            SocialAccount.status.not_in([*NEEDS_RECONNECT, AccountStatus.DISABLED]),
        )
        .values(
            status=AccountStatus.RECONNECT_NEEDED,
            status_reason=reason[:300],
            status_changed_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session="fetch")
    )
    first = (cast(CursorResult[Any], result).rowcount or 0) > 0
    if not first:
        if account.status != AccountStatus.RECONNECT_NEEDED and needs_reconnect(account.status):
            account.status = AccountStatus.RECONNECT_NEEDED  # a legacy name, as it is read
            account.status_reason = account.status_reason or reason[:300]
            account.status_changed_at = account.status_changed_at or now
        return False
    session.refresh(account)
    extra: dict[str, Any] = {} if held_jobs is None else {"held_jobs": held_jobs}
    record_event(
        session,
        EventType.ACCOUNT_DISCONNECTED,
        now=now,
        workspace_id=account.workspace_id,
        platform=account.platform,
        account_id=account.id,
        handle=account.handle,
        reason=reason[:300],
        error_class=error_class,
        **extra,
    )
    audit(
        session,
        actor=actor,
        action="account.disconnected",
        object_type="social_account",
        object_id=account.id,
        workspace_id=account.workspace_id,
        now=now,
        reason=reason[:300],
        **extra,
    )
    return True
