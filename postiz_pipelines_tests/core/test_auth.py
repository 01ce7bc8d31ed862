"""Users, roles and API tokens: tokens stored only as SHA-256, shown once, revocable, expiring."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from postiz_pipelines.core.models import ApiToken, AuditLog
from postiz_pipelines.core.workspaces import auth
from postiz_pipelines.errors import Conflict, NotFound, ValidationFailed


def test_token_is_stored_hashed_and_verifies(app, clock):
    now = clock.now()
    with app.db.session() as s:
        user = auth.create_user(s, email="A@Example.com", now=now)
        issued = auth.create_token(s, user_id=user.id, name="ci", now=now, expires_in_days=1)
    assert issued.token.startswith("pz_") and len(issued.token) > 40
    assert issued.token not in repr(issued)
    with app.db.read() as s:
        row = s.scalar(select(ApiToken))
        assert row.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
        assert issued.token not in (row.token_hash, row.prefix, row.name)
        found = auth.verify_token(s, issued.token, now=now)
        assert found is not None and found[0].email == "a@example.com"
        assert auth.verify_token(s, issued.token + "x", now=now) is None
        assert auth.verify_token(s, "not-a-pz-token", now=now) is None
        assert auth.verify_token(s, issued.token, now=now + timedelta(days=1)) is None  # expired


def test_revoked_token_stops_working_and_is_audited(app, clock):
    now = clock.now()
    with app.db.session() as s:
        user = auth.create_user(s, email="b@x.test", now=now)
        other = auth.create_user(s, email="c@x.test", now=now)
        issued = auth.create_token(s, user_id=user.id, name="t", now=now)
    with app.db.session() as s:
        with pytest.raises(NotFound):  # another user's token does not exist for this one
            auth.revoke_token(s, token_id=issued.row.id, user_id=other.id, now=now)
    with app.db.session() as s:
        auth.revoke_token(s, token_id=issued.row.id, user_id=user.id, now=now)
    with app.db.read() as s:
        assert auth.verify_token(s, issued.token, now=now) is None
        actions = list(s.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert actions == ["user.create", "user.create", "token.create", "token.revoke"]


def test_roles_rank_and_last_owner_is_kept(app, make, clock):
    ws = make.workspace("acme")
    now = clock.now()
    assert auth.role_allows("admin", "editor") and not auth.role_allows("viewer", "editor")
    assert not auth.role_allows(None, "viewer")
    with app.db.session() as s:
        owner = auth.create_user(s, email="o@x.test", now=now)
        auth.set_member(s, workspace_id=ws.id, user_id=owner.id, role="owner", now=now)
        with pytest.raises(ValidationFailed):
            auth.set_member(s, workspace_id=ws.id, user_id=owner.id, role="king", now=now)
    with app.db.session() as s, pytest.raises(Conflict):
        auth.set_member(s, workspace_id=ws.id, user_id=owner.id, role="admin", now=now)
    with app.db.read() as s:
        assert auth.memberships(s, owner.id) == {ws.id: "owner"}


def test_keys_match_is_exact_and_unset_never_matches():
    assert auth.keys_match("secret-key", "secret-key")
    assert not auth.keys_match("secret-kez", "secret-key")
    assert not auth.keys_match(None, "secret-key")
    assert not auth.keys_match("", "")


def test_bad_emails_and_duplicates_are_refused(app, clock):
    with app.db.session() as s:
        auth.create_user(s, email="d@x.test", now=clock.now())
    with app.db.session() as s:
        with pytest.raises(ValidationFailed) as dup:
            auth.create_user(s, email="D@x.test", now=clock.now())
        assert dup.value.problems[0].field == "email"
        with pytest.raises(ValidationFailed):
            auth.create_user(s, email="no-at-sign", now=clock.now())
