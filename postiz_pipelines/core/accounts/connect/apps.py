"""Our app's registrations on Mastodon instances (``oauth_apps``): made once per instance
and redirect URI, reused by every later connect; the client secret sealed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import OAuthApp
from postiz_pipelines.providers.connect.fediverse import MASTODON_SCOPES, MastodonConnector
from postiz_pipelines.providers.connect.oauth import ConnectHttp, OAuthClient


def _ctx(app_id: str) -> str:
    return f"oauth_app:{app_id}:secret"


def _client(app: AppContext, row: OAuthApp) -> OAuthClient:
    secret = (
        app.keyring.open(row.client_secret_sealed, context=_ctx(row.id))
        if row.client_secret_sealed
        else None
    )
    return OAuthClient(row.client_id, secret)


def _find(app: AppContext, instance: str, redirect_uri: str) -> OAuthClient | None:
    with app.db.read() as s:
        row = s.scalar(
            select(OAuthApp).where(
                OAuthApp.platform == "mastodon",
                OAuthApp.instance == instance,
                OAuthApp.redirect_uri == redirect_uri,
            )
        )
        return _client(app, row) if row is not None else None


async def mastodon_client(
    app: AppContext,
    connector: MastodonConnector,
    net: ConnectHttp,
    *,
    instance: str,
    redirect_uri: str,
    now: datetime,
) -> OAuthClient:
    """The registration on ``instance`` for ``redirect_uri``, made now if there is none."""
    found = _find(app, instance, redirect_uri)
    if found is not None:
        return found
    client = await connector.register_app(net, instance, redirect_uri, app.settings.public_url)
    try:
        with app.db.session() as s:
            row = OAuthApp(
                id=new_id("oap"),
                platform="mastodon",
                instance=instance,
                redirect_uri=redirect_uri,
                client_id=client.client_id,
                scopes=" ".join(MASTODON_SCOPES),
                created_at=now,
            )
            if client.client_secret:
                row.client_secret_sealed = app.keyring.seal(
                    client.client_secret, context=_ctx(row.id)
                )
            s.add(row)
    except IntegrityError:  # another connect registered it meanwhile: use theirs
        again = _find(app, instance, redirect_uri)
        if again is not None:
            return again
        raise
    return client
