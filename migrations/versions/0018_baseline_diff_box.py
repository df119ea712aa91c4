"""A changed screenshot's box: where its changed pixels are (left, top, right, bottom), so the review queue
can show the baseline and the new picture cropped to it. Rows made before have none: no crop is offered.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("baselines") as batch:
        batch.add_column(sa.Column("diff_box", sa.JSON, nullable=True))


def downgrade():
    with op.batch_alter_table("baselines") as batch:
        batch.drop_column("diff_box")
