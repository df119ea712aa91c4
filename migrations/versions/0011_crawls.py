"""Crawls: a crawl's pages, skips, diff and drafts; runs that crawl first (phase), page checks
(results with the page they load) and drafts that remember their source page.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

STANDALONE_ACTIVE = sa.text("status IN ('queued', 'running') AND run_id IS NULL")


def upgrade():
    op.create_table(
        "crawls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("triggered_by", sa.String(64), nullable=False),
        sa.Column("base_url", sa.String(2048), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("progress", sa.JSON, nullable=False),
        sa.Column("pages", sa.JSON),
        sa.Column("skipped", sa.JSON),
        sa.Column("notes", sa.JSON),
        sa.Column("diff", sa.JSON),
        sa.Column("drafts", sa.JSON),
        sa.Column("error", sa.Text),
        sa.Column("owner", sa.String(64)),
        sa.Column("lease_until", sa.DateTime),
        sa.Column("claims", sa.Integer, nullable=False, server_default="0"),
        sa.Column("stop_requested", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_crawls_run_id", "crawls", ["run_id"])
    op.create_index("ix_crawls_project_created", "crawls", ["project_id", "created_at"])
    op.create_index("ix_crawls_status", "crawls", ["status"])
    op.create_index(
        "uq_crawls_one_active_per_project",
        "crawls",
        ["project_id"],
        unique=True,
        sqlite_where=STANDALONE_ACTIVE,
        postgresql_where=STANDALONE_ACTIVE,
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("phase", sa.String(16)))
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("page_url", sa.String(2048)))
    with op.batch_alter_table("tests") as batch:
        batch.add_column(sa.Column("source_page", sa.String(2048)))


def downgrade():
    with op.batch_alter_table("tests") as batch:
        batch.drop_column("source_page")
    with op.batch_alter_table("results") as batch:
        batch.drop_column("page_url")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("phase")
    op.drop_table("crawls")
