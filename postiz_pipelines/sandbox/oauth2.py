"""An OAuth 2.0 token book the emulators of YouTube, TikTok, Pinterest and Reddit share:
what their token endpoints issued, and who a bearer token speaks for.

Each emulator answers its token endpoint in its platform's own shape and with its own
rules (lifetimes, whether refresh tokens rotate); the book only remembers. Grants:

- ``authorization_code``: a code works once and makes a new account (``code:<code>``
  through the control API names it in advance);
- ``refresh_token``: only a refresh token the book issued and nobody revoked. A rotating
  platform retires the old refresh token as it issues a new one.

Access tokens the book issued speak for their account until they expire; any other bearer
token is resolved by ``SandboxState.authenticate`` (an unseen token is a new account, the
control API can revoke or expire it).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState, TokenStatus
from postiz_pipelines.sandbox.world import world


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Issued:
    account_id: str
    expires_at: datetime | None


@dataclass
class Grant:
    """What a successful grant handed out."""

    account: SandboxAccount
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int | None


@dataclass
class TokenBook:
    access: dict[str, Issued] = field(default_factory=dict)
    refresh: dict[str, Issued] = field(default_factory=dict)
    codes: set[str] = field(default_factory=set)


class GrantRefused(Exception):  # noqa: N818 - the OAuth error it carries is the name
    """A grant the token endpoint refuses: ``error`` is the OAuth error code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def book(state: SandboxState, platform: str) -> TokenBook:
    return world(state, f"{platform}-oauth", TokenBook)


def issue(
    state: SandboxState,
    platform: str,
    account: SandboxAccount,
    *,
    access_seconds: int,
    refresh_seconds: int | None,
    refresh_token: str | None = None,
    prefix: str = "",
) -> Grant:
    """New tokens for ``account``; ``refresh_token`` given keeps that one (no rotation)."""
    b = book(state, platform)
    now = state.now()
    access = f"{prefix}at-{secrets.token_urlsafe(24)}"
    state.provision(platform, access)  # a placeholder the book points at the account
    b.access[digest(access)] = Issued(account.id, now + timedelta(seconds=access_seconds))
    if refresh_token is None:
        refresh_token = f"{prefix}rt-{secrets.token_urlsafe(24)}"
        until = now + timedelta(seconds=refresh_seconds) if refresh_seconds else None
        b.refresh[digest(refresh_token)] = Issued(account.id, until)
    left = b.refresh[digest(refresh_token)].expires_at
    return Grant(
        account,
        access,
        refresh_token,
        access_seconds,
        int((left - now).total_seconds()) if left else None,
    )


def grant_code(
    state: SandboxState,
    platform: str,
    code: str,
    *,
    access_seconds: int,
    refresh_seconds: int | None,
) -> Grant:
    """The ``authorization_code`` grant; GrantRefused for a missing or used code."""
    b = book(state, platform)
    if not code or code in b.codes:
        raise GrantRefused("invalid_grant", "The authorization code is invalid or was already used")
    b.codes.add(code)
    account = state.authenticate(platform, f"code:{code}").account
    return issue(
        state, platform, account, access_seconds=access_seconds, refresh_seconds=refresh_seconds
    )


def grant_refresh(
    state: SandboxState,
    platform: str,
    refresh_token: str,
    *,
    access_seconds: int,
    refresh_seconds: int | None,
    rotate: bool,
) -> Grant:
    """The ``refresh_token`` grant; GrantRefused (``invalid_grant``) for a refresh token
    never issued, revoked, expired, already rotated away, or whose account is gone."""
    b = book(state, platform)
    key = digest(refresh_token)
    with state.lock:
        issued = b.refresh.get(key)
        now = state.now()
        account = state.account(platform, issued.account_id) if issued else None
        if (
            issued is None
            or account is None
            or (issued.expires_at is not None and now >= issued.expires_at)
        ):
            raise GrantRefused("invalid_grant", "Token has been expired or revoked.")
        if rotate:
            del b.refresh[key]
            return issue(
                state,
                platform,
                account,
                access_seconds=access_seconds,
                refresh_seconds=refresh_seconds,
            )
        return issue(
            state,
            platform,
            account,
            access_seconds=access_seconds,
            refresh_seconds=refresh_seconds,
            refresh_token=refresh_token,
        )


def give_refresh_token(
    state: SandboxState, platform: str, account_id: str, token: str, *, seconds: int | None = None
) -> None:
    """File ``token`` as a refresh token of the account (tests and the demo connect this way)."""
    until = state.now() + timedelta(seconds=seconds) if seconds else None
    book(state, platform).refresh[digest(token)] = Issued(account_id, until)


def revoke_refresh_token(state: SandboxState, platform: str, token: str) -> None:
    book(state, platform).refresh.pop(digest(token), None)


def who(state: SandboxState, platform: str, token: str) -> tuple[TokenStatus, SandboxAccount]:
    """The status of a bearer token and the account it speaks for (expired when an issued
    token's life is over)."""
    auth = state.authenticate(platform, token)
    issued = book(state, platform).access.get(digest(token))
    account = (state.account(platform, issued.account_id) if issued else None) or auth.account
    status = auth.status
    if (
        status is TokenStatus.VALID
        and issued is not None
        and issued.expires_at is not None
        and state.now() >= issued.expires_at
    ):
        status = TokenStatus.EXPIRED
    return status, account
