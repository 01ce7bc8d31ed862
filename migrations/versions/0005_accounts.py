"""accounts that stay connected: token versions, refresh leases, held jobs, connect flows

- ``social_accounts``: ``token_version`` (compare-and-set for refreshers), a refresh lease
  for backends without row locks, why and when the status last changed, the account's
  language; legacy ``expired``/``revoked`` statuses become ``reconnect_needed``.
- ``publish_jobs``: ``held_reason`` and ``held_at`` for jobs held while their account
  needs reconnecting.
- ``workspaces.language``: the default language for platforms that want one.
- ``oauth_states`` (authorization requests in flight), ``oauth_apps`` (client
  registrations per instance) and ``quota_ledger`` (units spent per platform day).

Revision ID: 0005_accounts
Revises: 0004_progress
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_accounts"
down_revision = "0004_progress"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("social_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_reason", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("status_changed_at", _utc(), nullable=True))
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("refresh_lease_owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("refresh_lease_expires_at", _utc(), nullable=True))
        batch_op.add_column(sa.Column("last_refreshed_at", _utc(), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=35), nullable=True))
    op.execute(
        "UPDATE social_accounts SET status = 'reconnect_needed' "
        "WHERE status IN ('expired', 'revoked')"
    )
    with op.batch_alter_table("publish_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_reason", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("held_at", _utc(), nullable=True))
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=35), nullable=True))

    op.create_table(
        "oauth_states",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=24), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("code_verifier_sealed", sa.Text(), nullable=True),
        sa.Column("redirect_uri", sa.String(length=1000), nullable=False),
        sa.Column("extra", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("used_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oauth_states_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_oauth_states_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_states_state_hash")),
    )
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_states_workspace_id"), ["workspace_id"], unique=False
        )
    op.create_table(
        "oauth_apps",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("platform", sa.String(length=24), nullable=False),
        sa.Column("instance", sa.String(length=500), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1000), nullable=False),
        sa.Column("client_id", sa.String(length=500), nullable=False),
        sa.Column("client_secret_sealed", sa.Text(), nullable=True),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_apps")),
        sa.UniqueConstraint(
            "platform", "instance", "redirect_uri", name=op.f("uq_oauth_apps_platform")
        ),
    )
    op.create_table(
        "quota_ledger",
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("units_used", sa.Integer(), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "period", name=op.f("pk_quota_ledger")),
    )


def downgrade() -> None:
    op.drop_table("quota_ledger")
    op.drop_table("oauth_apps")
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_states_workspace_id"))
    op.drop_table("oauth_states")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("publish_jobs", schema=None) as batch_op:
        batch_op.drop_column("held_at")
        batch_op.drop_column("held_reason")
    op.execute("UPDATE social_accounts SET status = 'revoked' WHERE status = 'reconnect_needed'")
    with op.batch_alter_table("social_accounts", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("last_refreshed_at")
        batch_op.drop_column("refresh_lease_expires_at")
        batch_op.drop_column("refresh_lease_owner")
        batch_op.drop_column("token_version")
        batch_op.drop_column("status_changed_at")
        batch_op.drop_column("status_reason")
