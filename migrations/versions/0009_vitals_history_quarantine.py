"""Gates that learn from history: Web Vitals samples and a regression gate against a baseline branch
(a run's branch and commit), and quarantined tests that run but never count.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("vitals_regression", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("quarantine_policy", sa.JSON(), nullable=True))
    with op.batch_alter_table("tests") as batch:
        batch.add_column(sa.Column("quarantined_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("quarantined_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("quarantine_reason", sa.String(500), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("quarantined", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("branch", sa.String(255), nullable=True))
        batch.add_column(sa.Column("commit_sha", sa.String(40), nullable=True))
        batch.create_index("ix_runs_project_branch", ["project_id", "branch"])
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("quarantined", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("results") as batch:
        batch.drop_column("quarantined")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_project_branch")
        batch.drop_column("commit_sha")
        batch.drop_column("branch")
        batch.drop_column("quarantined")
    with op.batch_alter_table("tests") as batch:
        batch.drop_column("quarantine_reason")
        batch.drop_column("quarantined_by")
        batch.drop_column("quarantined_at")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("quarantine_policy")
        batch.drop_column("vitals_regression")
