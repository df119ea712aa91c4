"""A crawl's page and broken-page counts in columns of their own: a list of crawls shows them
without reading any crawl's pages. Crawls already stored are counted once here, one at a time.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

crawls = sa.table(
    "crawls",
    sa.column("id", sa.Integer),
    sa.column("pages", sa.JSON),
    sa.column("page_count", sa.Integer),
    sa.column("broken_count", sa.Integer),
)


def _origin(url):
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}".lower()


def _broken(page):
    # crawl.report.page_verdict as it was at this revision (a migration must not follow later changes).
    origin = _origin(page.get("url"))
    failed = [
        r for r in page.get("failedRequests") or [] if r.get("status") or _origin(r.get("url")) == origin
    ]
    status = page.get("status")
    return bool(
        page.get("error") or (status is not None and status >= 400) or page.get("exceptions") or failed
    )


def upgrade():
    with op.batch_alter_table("crawls") as batch:
        batch.add_column(sa.Column("page_count", sa.Integer))
        batch.add_column(sa.Column("broken_count", sa.Integer))
    connection = op.get_bind()
    for (crawl_id,) in connection.execute(sa.select(crawls.c.id).where(crawls.c.pages.is_not(None))).all():
        pages = connection.execute(sa.select(crawls.c.pages).where(crawls.c.id == crawl_id)).scalar()
        if pages is None:  # a JSON null: no pages stored
            continue
        connection.execute(
            crawls.update()
            .where(crawls.c.id == crawl_id)
            .values(page_count=len(pages), broken_count=sum(_broken(page) for page in pages))
        )


def downgrade():
    with op.batch_alter_table("crawls") as batch:
        batch.drop_column("broken_count")
        batch.drop_column("page_count")
