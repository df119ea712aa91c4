"""Visual snapshots and healing locators: screenshot baselines and heal proposals waiting for a
person, each result's snapshots and healed steps, each test's locator hints and heal count, and the
project's strict switch.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "baselines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("test_id", sa.Integer, sa.ForeignKey("tests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("browser", sa.String(32), nullable=False),
        sa.Column("device", sa.String(32), nullable=False),
        sa.Column("viewport", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("compared_with_id", sa.Integer, sa.ForeignKey("baselines.id", ondelete="SET NULL")),
        sa.Column("diff_sha256", sa.String(64)),
        sa.Column("diff_ratio", sa.Float),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("reviewed_at", sa.DateTime),
        sa.Column("reviewed_by", sa.String(64)),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_baselines_key", "baselines", ["test_id", "name", "browser", "device", "viewport", "status"]
    )
    op.create_index("ix_baselines_project_status", "baselines", ["project_id", "status"])
    op.create_table(
        "heal_proposals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("test_id", sa.Integer, sa.ForeignKey("tests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("old_target", sa.JSON, nullable=False),
        sa.Column("new_target", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("seen", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("reviewed_at", sa.DateTime),
        sa.Column("reviewed_by", sa.String(64)),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_heal_proposals_test_step", "heal_proposals", ["test_id", "step", "status"])
    op.create_index("ix_heal_proposals_project_status", "heal_proposals", ["project_id", "status"])
    with op.batch_alter_table("projects") as batch:
        # A plain "1" (true on both databases): an expression default would make SQLite recreate the table
        # and lose its AUTOINCREMENT (ids would be reused).
        batch.add_column(sa.Column("heal_locators", sa.Boolean, nullable=False, server_default="1"))
    with op.batch_alter_table("tests") as batch:
        batch.add_column(sa.Column("locator_hints", sa.JSON))
        batch.add_column(sa.Column("heal_count", sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("snapshots", sa.JSON))
        batch.add_column(sa.Column("healed", sa.JSON))


def downgrade():
    with op.batch_alter_table("results") as batch:
        batch.drop_column("healed")
        batch.drop_column("snapshots")
    with op.batch_alter_table("tests") as batch:
        batch.drop_column("heal_count")
        batch.drop_column("locator_hints")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("heal_locators")
    op.drop_table("heal_proposals")
    op.drop_table("baselines")
