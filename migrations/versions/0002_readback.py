"""read-back per attempt; drop posts.idempotency_key and publish_jobs.occurrence_at

``publish_attempts.readback`` records what an attempt's read-back learnt (absent, found,
failed). ``posts.idempotency_key`` and its index were never written by any path (the API's
Idempotency-Key lives in ``idempotency_records``), and ``publish_jobs.occurrence_at`` always
equalled ``run_at`` (the occurrence is part of the job's idempotency key).

Revision ID: 0002_readback
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_readback"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("publish_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("readback", sa.String(length=16), nullable=True))
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_posts_idempotency",
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
            sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        )
        batch_op.drop_column("idempotency_key")
    with op.batch_alter_table("publish_jobs", schema=None) as batch_op:
        batch_op.drop_column("occurrence_at")


def downgrade() -> None:
    with op.batch_alter_table("publish_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("occurrence_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE publish_jobs SET occurrence_at = run_at")
    with op.batch_alter_table("publish_jobs", schema=None) as batch_op:
        batch_op.alter_column(
            "occurrence_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.create_index(
            "uq_posts_idempotency",
            ["workspace_id", "idempotency_key"],
            unique=True,
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
            sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        )
    with op.batch_alter_table("publish_attempts", schema=None) as batch_op:
        batch_op.drop_column("readback")
