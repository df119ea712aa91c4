"""One active run per project, browser and device: a CI job may run the same project on chromium, firefox
and a mobile device at once, each its own run, while two triggers for the same pair still give a 409.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('queued', 'running')")


def upgrade():
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("browser", sa.String(16), nullable=False, server_default="chromium"))
        batch.add_column(sa.Column("device", sa.String(16), nullable=False, server_default="desktop"))
    op.drop_index("uq_runs_one_active_per_project", table_name="runs")
    op.create_index(
        "uq_runs_one_active_per_project_browser_device",
        "runs",
        ["project_id", "browser", "device"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def downgrade():
    op.drop_index("uq_runs_one_active_per_project_browser_device", table_name="runs")
    op.create_index(
        "uq_runs_one_active_per_project",
        "runs",
        ["project_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("device")
        batch.drop_column("browser")
