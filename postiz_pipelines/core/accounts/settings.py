"""Changing a connected account's own settings: display name, language, platform options.

Platform options are merged (a ``None`` removes one); what connect keeps for the platform
(``instance`` limits, ``creator_info``) cannot be set by hand, and a Pinterest ``board_id``
must name one of the account's boards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.models import SocialAccount
from postiz_pipelines.errors import Problem, ValidationFailed
from postiz_pipelines.providers.atproto import is_language_tag

READ_ONLY = frozenset({"instance", "instance_read_at", "creator_info", "boards", "subreddit_rules"})
MAX_SETTINGS = 50
# the account options providers read, and the values they take
CHOICES: dict[str, tuple[Any, ...]] = {
    "author_type": ("person", "organization"),  # LinkedIn
    "login": ("instagram", "facebook"),  # Instagram
    "target": ("bot", "webhook"),  # Discord
    "app_type": ("web", "script"),  # Reddit
    "audited": (True, False),  # YouTube, TikTok: an audited API client
    "auto_join": (True, False),  # Slack
}
TEXT = ("subreddit", "board_id", "guild_id", "language", "timezone")


def update_account(
    session: Session,
    account: SocialAccount,
    *,
    display_name: str | None,
    language: str | None,
    settings: dict[str, Any] | None,
    now: datetime,
    actor: str,
) -> SocialAccount:
    """Validate every change, then apply them all (or none)."""
    problems = []
    if display_name is not None and not display_name.strip():
        problems.append(Problem("display_name", "must not be empty"))
    if language and not is_language_tag(language):
        problems.append(Problem("language", "is not a BCP-47 language tag", language))
    merged = dict(account.settings or {})
    for key, value in (settings or {}).items():
        if key in READ_ONLY:
            problems.append(Problem(f"settings.{key}", "is read from the platform at connect"))
        elif value is None:
            merged.pop(key, None)
        elif key in CHOICES and value not in CHOICES[key]:
            allowed = ", ".join(map(str, CHOICES[key]))
            problems.append(Problem(f"settings.{key}", f"must be one of {allowed}", value))
        elif key in TEXT and (not isinstance(value, str) or not value.strip()):
            problems.append(Problem(f"settings.{key}", "must be a non-empty string", value))
        else:
            merged[key] = value.strip() if isinstance(value, str) else value
    boards = {str(b.get("id")) for b in merged.get("boards") or [] if isinstance(b, dict)}
    board = (settings or {}).get("board_id")
    if account.platform == "pinterest" and board is not None and str(board) not in boards:
        problems.append(Problem("settings.board_id", f"is not one of {sorted(boards)}", board))
    if len(merged) > MAX_SETTINGS:
        problems.append(Problem("settings", "too many settings", len(merged), MAX_SETTINGS))
    if problems:
        raise ValidationFailed(problems)
    if display_name is not None:
        account.display_name = display_name.strip()
    if language is not None:
        account.language = language or None
    account.settings = merged
    account.updated_at = now
    audit(
        session,
        actor=actor,
        action="account.update",
        object_type="social_account",
        object_id=account.id,
        workspace_id=account.workspace_id,
        now=now,
        fields=sorted(
            k
            for k, v in (
                ("display_name", display_name),
                ("language", language),
                ("settings", settings),
            )
            if v is not None
        ),
    )
    return account
