"""The state of one authorization in flight (``oauth_states``): bound to the user and the
workspace that began it, single use, short-lived (10 minutes by default), stored only as
its SHA-256; the PKCE verifier sealed. ``take_state`` is the one check of all of it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import OAuthState
from postiz_pipelines.crypto import Keyring, Secret
from postiz_pipelines.errors import Problem, ValidationFailed


def state_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


BROWSER_COOKIE = "postiz_oauth_"
ALREADY_USED = "this authorization was already used; start the connect again"


def new_browser_nonce() -> str:
    """The secret of the browser that began an authorization (its cookie holds it; the state
    keeps only its SHA-256 in ``extra["browser"]``)."""
    return secrets.token_urlsafe(32)


def browser_cookie(raw: str) -> str:
    """The cookie's name for one state: several connects in one browser do not collide."""
    return BROWSER_COOKIE + state_hash(raw)[:20]


def _ctx(state_id: str, what: str) -> str:
    return f"oauth_state:{state_id}:{what}"


def issue_state(
    session: Session,
    keyring: Keyring,
    *,
    platform: str,
    workspace_id: str,
    user_id: str,
    redirect_uri: str,
    verifier: str | None,
    extra: dict[str, Any],
    now: datetime,
    ttl: timedelta,
) -> str:
    """A new state; the raw value goes into the authorize URL and is never stored."""
    purge_states(session, now=now)
    raw = secrets.token_urlsafe(32)
    row = OAuthState(
        id=new_id("ost"),
        state_hash=state_hash(raw),
        platform=platform,
        workspace_id=workspace_id,
        user_id=user_id,
        redirect_uri=redirect_uri,
        extra=extra,
        created_at=now,
        expires_at=now + ttl,
    )
    if verifier is not None:
        row.code_verifier_sealed = keyring.seal(verifier, context=_ctx(row.id, "verifier"))
    session.add(row)
    session.flush()
    return raw


def purge_states(session: Session, *, now: datetime, keep: timedelta = timedelta(days=1)) -> int:
    """Forget states expired longer than ``keep`` ago (their use, or not, is in the audit)."""
    result = session.execute(delete(OAuthState).where(OAuthState.expires_at < now - keep))
    return int(getattr(result, "rowcount", 0) or 0)


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed(Problem("state", message))


def _same_browser(row: OAuthState, nonce: str | None) -> bool:
    kept = (row.extra or {}).get("browser")
    return bool(kept and nonce) and hmac.compare_digest(str(kept), state_hash(str(nonce)))


def find_state(
    session: Session,
    raw: str | None,
    *,
    platform: str,
    user_id: str | None,
    now: datetime,
    browser_nonce: str | None = None,
    unused: bool = False,
) -> OAuthState:
    """The state row for ``raw``; refused when unknown, of another platform, expired, or not
    the beginner's: with an API token (``user_id``) it must be the user's who began, without
    one the browser's nonce must be the one the state was begun with (its use is the
    caller's concern)."""
    if not raw:
        raise _refused("the callback has no state; start the connect again")
    row = session.scalar(select(OAuthState).where(OAuthState.state_hash == state_hash(raw)))
    if row is None or row.platform != platform:
        raise _refused("unknown state: it was not issued here for this platform")
    if user_id is not None and row.user_id != user_id:
        raise _refused("this authorization was started by another user")
    if unused and row.used_at is not None:
        raise _refused(ALREADY_USED)
    if user_id is None and not _same_browser(row, browser_nonce):
        raise _refused("this authorization was started in another browser; start the connect again")
    if now >= row.expires_at:  # UTCDateTime: aware on every backend
        raise _refused("the authorization expired (10 minutes); start the connect again")
    return row


def take_state(
    session: Session,
    keyring: Keyring,
    raw: str | None,
    *,
    platform: str,
    user_id: str | None,
    now: datetime,
    browser_nonce: str | None = None,
) -> tuple[OAuthState, Secret | None]:
    """Spend the state once: the row and its PKCE verifier; refused when used before. A
    refusal by ``find_state`` leaves it unspent, for the rightful browser to finish."""
    row = find_state(
        session,
        raw,
        platform=platform,
        user_id=user_id,
        now=now,
        browser_nonce=browser_nonce,
        unused=True,
    )
    # spent by one conditional UPDATE, so two callbacks racing with one state cannot both
    # pass (a plain read-then-write would let the second overwrite the first on PostgreSQL)
    spent = session.execute(
        update(OAuthState)
        .where(OAuthState.id == row.id, OAuthState.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(spent, "rowcount", 0) or 0) != 1:
        raise _refused(ALREADY_USED)
    set_committed_value(row, "used_at", now)  # what the UPDATE wrote, without a reload
    verifier = (
        keyring.open(row.code_verifier_sealed, context=_ctx(row.id, "verifier"))
        if row.code_verifier_sealed
        else None
    )
    session.flush()
    return row, verifier


def seal_pending(keyring: Keyring, state_id: str, n: int, token: Secret | None) -> str | None:
    return keyring.seal(token, context=_ctx(state_id, f"pending:{n}")) if token else None


def open_pending(keyring: Keyring, state_id: str, n: int, sealed: str | None) -> Secret | None:
    return keyring.open(sealed, context=_ctx(state_id, f"pending:{n}")) if sealed else None
