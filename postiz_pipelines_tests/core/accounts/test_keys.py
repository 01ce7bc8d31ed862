"""Key rotation: every sealed value, sealed under two old keys, re-sealed with the new primary
in batches (interrupted and resumed), readable with the new key alone afterwards; the
database file holds no token in the clear; media links survive a rotation."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from postiz_pipelines.core.accounts import keys
from postiz_pipelines.core.accounts.store import add_account, credentials
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.media.links import signed_url, verify
from postiz_pipelines.core.models import Base, OAuthApp, OAuthState, SocialAccount, User
from postiz_pipelines.core.observability.webhook_subscriptions import (
    create_subscription,
    secret_context,
)
from postiz_pipelines.crypto import Keyring
from postiz_pipelines.settings import Settings

OLD1 = Keyring.generate_spec("old1")
OLD2 = Keyring.generate_spec("old2")
NEW = Keyring.generate_spec("new")
NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # the night the clocks change in Europe
TOKENS = [f"at-{n}-zoë-🔑-{'x' * n}" for n in range(7)]


def app_with(url: str, tmp_path: Path, spec: str) -> AppContext:
    env = {
        "POSTIZ_DATABASE_URL": url,
        "POSTIZ_DATA_DIR": str(tmp_path / "data"),
        "POSTIZ_ENCRYPTION_KEY": spec,
    }
    return AppContext.from_settings(Settings.from_env(env))


def seed(url: str, tmp_path: Path, make_ws) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Accounts, an OAuth app, a state with a verifier and pending tokens, a webhook secret:
    the first half sealed under old1, the rest under old2. Returns account id -> token."""
    placed: dict[str, str] = {}
    ws = make_ws()
    for spec, part in ((OLD1, TOKENS[:4]), (OLD2, TOKENS[4:])):
        app = app_with(url, tmp_path, spec)
        with app.db.session() as s:
            for token in part:
                acc = add_account(
                    s,
                    app.keyring,
                    workspace=ws,
                    platform="mastodon",
                    handle=f"h{len(placed)}",
                    access_token=token,
                    refresh_token=None if len(placed) == 1 else f"rt-{token}",
                    base_url="https://mastodon.example",
                    now=NOW,
                )
                placed[acc.id] = token
            if spec == OLD2:
                app_id = new_id("oapp")
                s.add(
                    OAuthApp(
                        id=app_id,
                        platform="mastodon",
                        instance="https://mastodon.example",
                        redirect_uri="http://127.0.0.1/cb",
                        client_id="cid",
                        client_secret_sealed=app.keyring.seal(
                            "app-secret-✓", context=f"oauth_app:{app_id}:secret"
                        ),
                    )
                )
                user = User(id=new_id("usr"), email="kim@example.test")
                s.add(user)
                s.flush()
                state_id = new_id("ost")
                s.add(
                    OAuthState(
                        id=state_id,
                        state_hash="h" * 64,
                        platform="facebook",
                        workspace_id=ws.id,
                        user_id=user.id,
                        code_verifier_sealed=app.keyring.seal(
                            "verifier-123", context=f"oauth_state:{state_id}:verifier"
                        ),
                        redirect_uri="http://127.0.0.1/cb",
                        extra={
                            "pending": [
                                {
                                    "handle": "page",
                                    "access": app.keyring.seal(
                                        "page-token-1", context=f"oauth_state:{state_id}:pending:0"
                                    ),
                                    "refresh": None,
                                }
                            ]
                        },
                        expires_at=NOW + timedelta(minutes=10),
                    )
                )
                create_subscription(
                    s,
                    app.keyring,
                    workspace_id=ws.id,
                    url="https://hooks.example/x",
                    events=None,
                    now=NOW,
                )
        app.close()
    return placed


def test_rotation_reseals_values_of_two_old_keys_in_resumable_batches(db_url, tmp_path, app, make):
    placed = seed(db_url, tmp_path, make.workspace)
    ring = app_with(db_url, tmp_path, f"{NEW},{OLD1},{OLD2}")
    before = keys.key_usage(ring.db)
    assert before == {"old1": 7, "old2": 10}  # 4+3 tokens; 3+3 tokens, app, verifier, page, hook

    first = keys.rotate(ring.db, ring.keyring, batch_size=2, max_batches=2)  # interrupted
    assert first.total("resealed") == 4 and first.batches == 2
    halfway = keys.key_usage(ring.db)
    assert halfway["new"] == 4 and halfway["old1"] + halfway["old2"] == 13
    rest = keys.rotate(ring.db, ring.keyring, batch_size=2)  # resumed
    assert rest.total("resealed") == 13 and rest.total("unreadable") == 0
    assert rest.fields["oauth_states.pending_tokens"].resealed == 1
    assert keys.key_usage(ring.db) == {"new": 17}
    assert keys.rotate(ring.db, ring.keyring).total("resealed") == 0  # nothing left to do
    ring.close()

    only_new = app_with(db_url, tmp_path, NEW)  # the old keys removed
    with only_new.db.read() as s:
        for acc_id, token in placed.items():
            creds = credentials(s.get(SocialAccount, acc_id), only_new.keyring)
            assert creds.access_token.reveal() == token
        oapp = s.scalar(select(OAuthApp))
        assert only_new.keyring.open(
            oapp.client_secret_sealed, context=f"oauth_app:{oapp.id}:secret"
        ).startswith("app-secret")
        state = s.scalar(select(OAuthState))
        page = state.extra["pending"][0]["access"]
        assert only_new.keyring.open(page, context=f"oauth_state:{state.id}:pending:0") == (
            "page-token-1"
        )
    only_new.close()


def test_the_database_file_holds_no_token_bytes(sqlite_url, tmp_path):
    def workspace():  # type: ignore[no-untyped-def]
        from postiz_pipelines.core.workspaces.store import create_workspace

        owner = app_with(sqlite_url, tmp_path, OLD1)
        with owner.db.session() as s:
            ws = create_workspace(s, slug="scan", timezone="Europe/Berlin", now=NOW)
        owner.close()
        return ws

    placed = seed(sqlite_url, tmp_path, workspace)
    ring = app_with(sqlite_url, tmp_path, f"{NEW},{OLD1},{OLD2}")
    keys.rotate(ring.db, ring.keyring)
    ring.close()
    files = [Path(sqlite_url.removeprefix("sqlite:///"))]
    files += [f.with_name(f.name + sfx) for f in files[:1] for sfx in ("-wal", "-journal")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    assert len(raw) > 0
    for token in [*placed.values(), "app-secret-✓", "verifier-123", "page-token-1"]:
        assert token.encode() not in raw, token
        assert f"rt-{token}".encode() not in raw
    assert b"pz1.new." in raw  # sealed, under the new key


def test_every_sealed_column_is_rotated_with_the_context_its_owner_seals_with():
    sealed = {
        (table.name, col.name)
        for table in Base.metadata.tables.values()
        for col in table.columns
        if col.name.endswith("_sealed")
    }
    covered = {(spec.model.__tablename__, spec.column) for spec in keys.SEALED}
    assert sealed == covered
    by_name = {spec.name: spec for spec in keys.SEALED}
    assert by_name["webhook_subscriptions.secret"].context("whk_1") == secret_context("whk_1")
    store = Path(__file__).resolve().parents[3] / "postiz_pipelines/core/accounts/store.py"
    tree = ast.parse(store.read_text())
    [ctx] = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_ctx"]
    template = ast.unparse(ctx.body[0])
    assert re.search(r"social_account:\{account_id\}:\{which\}", template)


def test_media_links_survive_a_key_rotation(tmp_path):
    env = {"POSTIZ_DATA_DIR": str(tmp_path / "d"), "POSTIZ_DATABASE_URL": "sqlite://"}
    before = AppContext.from_settings(Settings.from_env({**env, "POSTIZ_ENCRYPTION_KEY": OLD1}))
    url = signed_url(
        before.media_link_key,
        base_url="https://pz.example",
        media_id="med_1",
        mime_type="image/png",
        now=NOW,
        valid_for=timedelta(hours=1),
    )
    expires, sig = re.search(r"expires=(\d+)&signature=([0-9a-f]+)", url).groups()  # type: ignore[union-attr]
    after = AppContext.from_settings(
        Settings.from_env({**env, "POSTIZ_ENCRYPTION_KEY": f"{NEW},{OLD1}"})
    )
    assert verify(
        after.media_link_key, media_id="med_1", expires=int(expires), signature=sig, now=NOW
    )
    assert not verify(
        after.media_link_key, media_id="med_2", expires=int(expires), signature=sig, now=NOW
    )
    configured = AppContext.from_settings(
        Settings.from_env({**env, "POSTIZ_MEDIA_LINK_KEY": "k" * 40})
    )
    assert configured.media_link_key == b"k" * 40
    assert not verify(
        configured.media_link_key, media_id="med_1", expires=int(expires), signature=sig, now=NOW
    )
