"""A test's results indexed by test and run: its newest results are read along the index and the read stops
after a window, however long the history (runs/history.py). The index on test alone is its prefix, dropped.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-09
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_results_test_run", "results", ["test_id", "run_id"])
    op.drop_index("ix_results_test_id", table_name="results")


def downgrade():
    op.create_index("ix_results_test_id", "results", ["test_id"])
    op.drop_index("ix_results_test_run", table_name="results")
