"""Where a project's runs may go and type secrets (allowed origins); a user's credentials version,
bumped by a password change so that older sessions and API tokens stop working.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("allowed_origins", sa.JSON(), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("credentials_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("credentials_version")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("allowed_origins")
