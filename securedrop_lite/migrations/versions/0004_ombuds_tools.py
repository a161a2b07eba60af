"""ombuds tools: private incident-log entries, and admin-edited information pages

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("entry_ref", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("box", sa.LargeBinary(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_log_entries_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_entries")),
        sa.UniqueConstraint(
            "source_id", "entry_ref", "version", name=op.f("uq_log_entries_source_id")
        ),
    )
    op.create_index(op.f("ix_log_entries_source_id"), "log_entries", ["source_id"])
    op.create_table(
        "info_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=32), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("updated_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_info_pages")),
        sa.UniqueConstraint("slug", "locale", name=op.f("uq_info_pages_slug")),
    )


def downgrade() -> None:
    op.drop_table("info_pages")
    op.drop_index(op.f("ix_log_entries_source_id"), table_name="log_entries")
    op.drop_table("log_entries")
