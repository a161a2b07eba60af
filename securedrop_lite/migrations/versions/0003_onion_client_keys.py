"""onion client keys: each ombuds user's x25519 public key for the ombuds onion service

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 15:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("onion_client_key", sa.String(length=56), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("onion_client_key")
