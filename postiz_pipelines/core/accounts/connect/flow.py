"""The connect flows, from the first request to a stored account.

- ``begin``: for an authorization-code platform, the authorize URL (a new state; for
  Mastodon the instance checked and our app registered on it first).
- ``complete``: the callback. The state is spent first (a replay, an expired or foreign
  state is refused before anything else), then a denied consent is refused, then the code
  is exchanged and the account read. One account found is stored; several (Pages,
  channels) are kept sealed on the state for ``select``, unless the user chose already.
- ``connect_secret``: Bluesky (handle + app password), Telegram (bot token + chat).

Every refusal is ``ValidationFailed`` naming the field (``state``, ``error``, ``code``,
``instance``, ``handle``, ``app_password``, ``bot_token``, ``chat_id``) or ``Conflict``
(connected in another workspace); nothing is stored then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from postiz_pipelines.core.accounts.connect import apps, states
from postiz_pipelines.core.accounts.connect.clients import connector_for, oauth_client
from postiz_pipelines.core.accounts.connect.store import Stored, save_connected
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import OAuthState, SocialAccount
from postiz_pipelines.core.workspaces.store import get_workspace
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import ConnectRefused, Problem, ProviderError, ValidationFailed
from postiz_pipelines.providers.base import TokenSet
from postiz_pipelines.providers.connect.chat import TelegramConnector
from postiz_pipelines.providers.connect.fediverse import (
    BlueskyConnector,
    MastodonConnector,
    instance_url,
)
from postiz_pipelines.providers.connect.oauth import (
    Connected,
    ConnectHttp,
    OAuthClient,
    authorization_url,
    exchange_code,
    new_verifier,
)

SECRET_FIELDS = {
    "bluesky": ("handle", "app_password"),
    "telegram": ("bot_token", "chat_id"),
}


@dataclass
class ConnectResult:
    """What a flow stored, or the accounts to choose among."""

    platform: str
    stored: list[Stored] = field(default_factory=list)
    choices: list[dict[str, str]] = field(default_factory=list)
    return_to: str | None = None

    @property
    def accounts(self) -> list[SocialAccount]:
        return [s.account for s in self.stored]


def _refusal(exc: ProviderError) -> ValidationFailed:
    name = exc.field if isinstance(exc, ConnectRefused) else "platform"
    message = (
        exc.message
        if isinstance(exc, ConnectRefused)
        else (f"{exc.message}; the platform could not be reached, try again")
    )
    return ValidationFailed(Problem(name, message))


async def begin(
    app: AppContext,
    *,
    platform: str,
    workspace_id: str,
    user_id: str,
    redirect_uri: str,
    net: ConnectHttp,
    now: datetime,
    options: Mapping[str, Any] | None = None,
    browser_nonce: str | None = None,
) -> str:
    """The authorize URL of a new authorization; see the module docstring. With
    ``browser_nonce`` the state is bound to that browser too (its hash kept)."""
    connector = connector_for(app.settings, platform)
    if connector.kind != "oauth":
        raise ValidationFailed(
            Problem(
                "platform",
                f"{platform} connects with {' and '.join(SECRET_FIELDS[platform])}, not a "
                f"redirect: POST /api/postiz/oauth/{platform}/connect",
                platform,
            )
        )
    with app.db.read() as s:
        get_workspace(s, workspace_id)
    choices: dict[str, Any] = {k: v for k, v in (options or {}).items() if v not in (None, "")}
    try:
        if isinstance(connector, MastodonConnector):
            if not choices.get("instance"):
                raise ValidationFailed(Problem("instance", "required for mastodon"))
            choices["instance"] = instance_url(str(choices["instance"]))
            choices["limits"] = await connector.read_instance(net, choices["instance"])
        client = await _client(app, platform, net, choices, redirect_uri, now)
    except ProviderError as exc:
        raise _refusal(exc) from None
    flow = connector.flow(choices)
    verifier = new_verifier() if flow.pkce else None
    with app.db.session() as s:
        raw = states.issue_state(
            s,
            app.keyring,
            platform=platform,
            workspace_id=workspace_id,
            user_id=user_id,
            redirect_uri=redirect_uri,
            verifier=verifier,
            extra={"choices": choices}
            | ({"browser": states.state_hash(browser_nonce)} if browser_nonce else {}),
            now=now,
            ttl=timedelta(seconds=app.settings.oauth_state_seconds),
        )
    return authorization_url(
        flow, client, redirect_uri=redirect_uri, state=raw, code_verifier=verifier
    )


async def complete(
    app: AppContext,
    *,
    platform: str,
    state: str | None,
    code: str | None,
    error: str | None,
    error_description: str | None,
    user_id: str | None,
    net: ConnectHttp,
    now: datetime,
    actor: str | None = None,
    browser_nonce: str | None = None,
) -> ConnectResult:
    """The callback; see the module docstring. ``actor`` defaults to the state's user.
    Without ``user_id`` (no API token) ``browser_nonce`` must be the beginning browser's."""
    connector_for(app.settings, platform)  # an unknown platform is refused first
    with app.db.session() as s:
        row, verifier = states.take_state(
            s,
            app.keyring,
            state,
            platform=platform,
            user_id=user_id,
            now=now,
            browser_nonce=browser_nonce,
        )
        state_id, workspace_id = row.id, row.workspace_id
        redirect_uri, choices = row.redirect_uri, dict((row.extra or {}).get("choices") or {})
        actor = actor or f"user:{row.user_id}"
    if error:
        reason = "you denied the consent" if error == "access_denied" else error
        raise ValidationFailed(
            Problem(
                "error",
                f"{platform}: {reason}" + (f" ({error_description})" if error_description else ""),
                error,
            )
        )
    if not code:
        raise ValidationFailed(Problem("code", "the callback has no code"))
    try:
        client = await _client(app, platform, net, choices, redirect_uri, now)
        connector = connector_for(app.settings, platform, client, now=now)
        tokens, answer = await exchange_code(
            connector.flow(choices),
            client,
            net,
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=verifier.reveal() if verifier else None,
            now=now,
        )
        found = await connector.identify(net, tokens, answer, choices)
    except ProviderError as exc:
        raise _refusal(exc) from None
    if not found:
        raise ValidationFailed(
            Problem(
                "code",
                f"{platform}: the authorization reaches no "
                f"account ({connector.picks or 'accounts'}) to connect",
            )
        )
    chosen = [str(c) for c in choices.get("select") or []]
    if connector.picks and chosen:
        found = _pick(found, chosen)
    elif connector.picks and len(found) > 1:
        return _keep_choices(app, state_id, platform, found, now)
    return _store(app, workspace_id, platform, found, choices, now=now, actor=actor)


async def _client(
    app: AppContext,
    platform: str,
    net: ConnectHttp,
    choices: Mapping[str, Any],
    redirect_uri: str,
    now: datetime,
) -> OAuthClient:
    """The app's client: configured per platform, or our registration on the instance."""
    if platform != "mastodon":
        return oauth_client(app.settings, platform)
    mastodon = connector_for(app.settings, platform)
    assert isinstance(mastodon, MastodonConnector)
    return await apps.mastodon_client(
        app, mastodon, net, instance=str(choices["instance"]), redirect_uri=redirect_uri, now=now
    )


def _pick(found: Sequence[Connected], ids: Sequence[str]) -> list[Connected]:
    by_id = {f.external_id: f for f in found}
    unknown = [i for i in ids if i not in by_id]
    if unknown or not ids:
        raise ValidationFailed(Problem("select", f"choose among {sorted(by_id)}", unknown or None))
    return [by_id[i] for i in ids]


def _keep_choices(
    app: AppContext, state_id: str, platform: str, found: Sequence[Connected], now: datetime
) -> ConnectResult:
    pending: list[dict[str, Any]] = []
    for n, f in enumerate(found):
        pending.append(
            {
                "external_id": f.external_id,
                "handle": f.handle,
                "display_name": f.display_name,
                "base_url": f.base_url,
                "settings": f.settings,
                "access": states.seal_pending(app.keyring, state_id, 2 * n, f.tokens.access_token),
                "refresh": states.seal_pending(
                    app.keyring, state_id, 2 * n + 1, f.tokens.refresh_token
                ),
                "expires_at": f.tokens.expires_at.isoformat() if f.tokens.expires_at else None,
            }
        )
    with app.db.session() as s:
        row = s.get(OAuthState, state_id)
        assert row is not None
        row.extra = {**(row.extra or {}), "pending": pending}
    return ConnectResult(
        platform, choices=[{"id": f.external_id, "name": f.display_name} for f in found]
    )


def select(
    app: AppContext,
    *,
    platform: str,
    state: str,
    ids: Sequence[str],
    user_id: str | None,
    now: datetime,
    actor: str | None = None,
    browser_nonce: str | None = None,
) -> ConnectResult:
    """Store the chosen accounts of an authorization that found several (bound as the
    callback is: the beginner's API token, or the beginning browser's nonce)."""
    with app.db.session() as s:
        row = states.find_state(
            s, state, platform=platform, user_id=user_id, now=now, browser_nonce=browser_nonce
        )
        pending = list((row.extra or {}).get("pending") or [])
        if not pending:
            raise ValidationFailed(Problem("state", "this authorization has nothing to choose"))
        found = []
        for n, p in enumerate(pending):
            access = states.open_pending(app.keyring, row.id, 2 * n, p["access"])
            assert access is not None
            expires = datetime.fromisoformat(p["expires_at"]) if p.get("expires_at") else None
            found.append(
                Connected(
                    platform,
                    p["external_id"],
                    p["handle"],
                    p["display_name"],
                    TokenSet(
                        access,
                        states.open_pending(app.keyring, row.id, 2 * n + 1, p["refresh"]),
                        expires,
                    ),
                    p.get("base_url"),
                    dict(p.get("settings") or {}),
                )
            )
        picked = _pick(found, list(ids))
        row.extra = {k: v for k, v in (row.extra or {}).items() if k != "pending"}
        workspace_id, choices = row.workspace_id, dict((row.extra or {}).get("choices") or {})
        actor = actor or f"user:{row.user_id}"
    return _store(app, workspace_id, platform, picked, choices, now=now, actor=actor)


def _store(
    app: AppContext,
    workspace_id: str,
    platform: str,
    found: Sequence[Connected],
    choices: Mapping[str, Any],
    *,
    now: datetime,
    actor: str,
) -> ConnectResult:
    limits = choices.get("limits") if platform == "mastodon" else None
    with app.db.session() as s:
        workspace = get_workspace(s, workspace_id)
        stored = [
            save_connected(
                s,
                app.keyring,
                workspace=workspace,
                found=f,
                now=now,
                actor=actor,
                allow_shared=app.settings.oauth_allow_shared_accounts,
                grace=timedelta(seconds=app.settings.held_job_grace_seconds),
                limits=limits,
            )
            for f in found
        ]
        for st in stored:
            s.flush()
            s.refresh(st.account)
        s.expunge_all()
    return ConnectResult(platform, stored=stored, return_to=app.settings.oauth_return_url)


async def connect_secret(
    app: AppContext,
    *,
    platform: str,
    workspace_id: str,
    fields: Mapping[str, str | None],
    net: ConnectHttp,
    now: datetime,
    actor: str,
) -> ConnectResult:
    """Bluesky or Telegram: what the user typed, checked with the platform, stored."""
    connector = connector_for(app.settings, platform)
    if connector.kind != "secret":
        raise ValidationFailed(
            Problem(
                "platform",
                f"{platform} connects through its consent page: GET "
                f"/api/postiz/oauth/{platform}/authorize",
                platform,
            )
        )
    missing = [f for f in SECRET_FIELDS[platform] if not (fields.get(f) or "").strip()]
    if missing:
        raise ValidationFailed([Problem(f, "required") for f in missing])
    with app.db.read() as s:
        get_workspace(s, workspace_id)
    try:
        if isinstance(connector, BlueskyConnector):
            found = await connector.login(
                net, str(fields["handle"]), Secret(str(fields["app_password"]).strip())
            )
        else:
            assert isinstance(connector, TelegramConnector)
            found = await connector.verify(
                net, Secret(str(fields["bot_token"]).strip()), str(fields["chat_id"]).strip()
            )
    except ProviderError as exc:
        raise _refusal(exc) from None
    return _store(app, workspace_id, platform, [found], {}, now=now, actor=actor)
