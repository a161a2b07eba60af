"""throttle counters: codename attempts per browser session and minute

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("window", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttle_counters")),
    )
    op.create_index(op.f("ix_throttle_counters_window"), "throttle_counters", ["window"])


def downgrade() -> None:
    op.drop_index(op.f("ix_throttle_counters_window"), table_name="throttle_counters")
    op.drop_table("throttle_counters")
