"""Runs live in the database: every planned test is a row a worker claims (owner, lease), the run
carries what workers need to schedule it (parallel, deadline, stop), what follows its end is
recorded once (notify_state), and the processes serving it say they are alive (nodes).

Runs a previous version left active were executed from memory and cannot be resumed: they are failed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RESTARTED = "The server restarted while the run was in progress."


def upgrade():
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("claims", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_results_run_status", ["run_id", "status"])
        batch.create_index("ix_results_status_lease", ["status", "lease_until"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("parallel", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("deadline", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("stop_reason", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("notify_state", sa.String(length=16), nullable=True))
        batch.create_index("ix_runs_status", ["status"])
        batch.create_index("ix_runs_notify_state", ["notify_state"])
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
    )
    op.execute(
        sa.text(
            "UPDATE runs SET status = 'failed', error = :error, finished_at = CURRENT_TIMESTAMP "
            "WHERE status IN ('queued', 'running')"
        ).bindparams(error=RESTARTED)
    )


def downgrade():
    op.drop_table("nodes")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_notify_state")
        batch.drop_index("ix_runs_status")
        batch.drop_column("notify_state")
        batch.drop_column("stop_reason")
        batch.drop_column("deadline")
        batch.drop_column("parallel")
    with op.batch_alter_table("results") as batch:
        batch.drop_index("ix_results_status_lease")
        batch.drop_index("ix_results_run_status")
        batch.drop_column("claims")
        batch.drop_column("lease_until")
        batch.drop_column("owner")
