"""Media metadata (frame rate, codecs, bit rate, animation) and prepared variants.

Revision ID: 0003_media
Revises: 0002_readback
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_media"
down_revision = "0002_readback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media_assets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frame_rate", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("video_codec", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("audio_codec", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("bit_rate", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("animated", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "media_variants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("asset_id", sa.String(length=40), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("limits_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mime_type", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("frame_rate", sa.Float(), nullable=True),
        sa.Column("video_codec", sa.String(length=32), nullable=True),
        sa.Column("audio_codec", sa.String(length=32), nullable=True),
        sa.Column("bit_rate", sa.BigInteger(), nullable=True),
        sa.Column("storage_key", sa.String(length=500), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("steps", sa.String(length=200), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["media_assets.id"], name=op.f("fk_media_variants_asset_id_media_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_variants")),
        sa.UniqueConstraint(
            "asset_id",
            "platform",
            "limits_fingerprint",
            name=op.f("uq_media_variants_asset_id"),
        ),
    )
    with op.batch_alter_table("media_variants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_variants_asset_id"), ["asset_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("media_variants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_variants_asset_id"))
    op.drop_table("media_variants")
    with op.batch_alter_table("media_assets", schema=None) as batch_op:
        batch_op.drop_column("animated")
        batch_op.drop_column("bit_rate")
        batch_op.drop_column("audio_codec")
        batch_op.drop_column("video_codec")
        batch_op.drop_column("frame_rate")
