"""The audit log: who did what to which object, written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from postiz_pipelines.core.models import AuditLog


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None,
    now: datetime,
    workspace_id: str | None = None,
    **details: Any,
) -> None:
    """Add an audit row to ``session`` (committed with the change it describes)."""
    session.add(
        AuditLog(
            workspace_id=workspace_id,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            at=now,
            details=details,
        )
    )
