"""`flask crawl --project PRJ-n`: crawl a project's site from the command line and wait for the drafts.

The crawl is queued like one asked for over the API; this process's own browser workers run it (a server
serving the same database may take it first: either way this command waits for it to end)."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from . import projects
from .crawl.models import Crawl
from .crawl.report import serialize
from .crawl.settings import CrawlRequest
from .errors import SentriError
from .extensions import db
from .queue import crawls
from .runtime import runtime
from .states import CrawlStatus
from .validation import parse

POLL_SECONDS = 0.5


@click.command("crawl")
@click.option("--project", "project_id", required=True, help="The project to crawl (PRJ-n).")
@click.option("--base-url", help="Crawl this origin instead of the project's (one of its origins).")
@click.option(
    "--max-pages", type=int, help="Pages at most (default: the last crawl's, else 30; at most 500)."
)
@click.option("--max-depth", type=int, help="Link depth at most (default: the last crawl's, else 3).")
@click.option("--page", "pages", multiple=True, help="Also start from this path (repeatable).")
@click.option("--fill-forms", is_flag=True, help="Submit harmless forms with harmless data.")
@click.option("--ignore-robots", is_flag=True, help="Visit pages robots.txt disallows.")
@click.option("--no-drafts", is_flag=True, help="Crawl only; make no draft tests.")
@click.option("--test-count", type=int, help="Drafts at most.")
@click.option(
    "--perspective",
    "perspectives",
    multiple=True,
    help="Draft generator (repeatable): page, single_component, full_journey, form_journey.",
)
@with_appcontext
def crawl_command(
    project_id,
    base_url,
    max_pages,
    max_depth,
    pages,
    fill_forms,
    ignore_robots,
    no_drafts,
    test_count,
    perspectives,
) -> None:
    """Crawl a project's site, print what it found and the drafts it made; the crawl's id is the last line.
    Exits non-zero when the crawl fails."""
    body = {"respectRobots": not ignore_robots, "fillForms": fill_forms, "generateTests": not no_drafts}
    for key, value in (
        ("baseUrl", base_url),
        ("maxPages", max_pages),
        ("maxDepth", max_depth),
        ("testCount", test_count),
        ("crawlPages", list(pages) or None),
        ("perspectives", list(perspectives) or None),
    ):
        if value is not None:
            body[key] = value
    try:
        project = projects.get(project_id)
        crawl = crawls.request(project, parse(CrawlRequest, body), triggered_by="cli")
    except SentriError as exc:
        raise click.ClickException(exc.message) from None
    engine = runtime().engine
    engine.start()  # this command runs the crawl itself (unless a serving process takes it first)
    crawl_id = crawl.id
    try:
        while True:
            db.session.commit()
            crawl = db.session.get_one(Crawl, crawl_id, populate_existing=True)
            if not crawl.is_active:
                break
            time.sleep(POLL_SECONDS)
    finally:
        engine.shutdown(grace_seconds=5)
    body = serialize(crawl)
    click.echo(
        f"{crawl.public_id} {crawl.status}: {body['pagesFound']} pages, {body['broken']} broken, "
        f"{len(body['drafts'])} draft(s) in the review queue"
    )
    for page in crawl.pages or []:
        click.echo(f"  {page.get('status') or '---'} {page.get('path') or page.get('url')}")
    if crawl.status != CrawlStatus.COMPLETED:
        raise click.ClickException(
            f"{crawl.public_id} {crawl.status}: {crawl.error or 'stopped'}\n{crawl.public_id}"
        )
    click.echo(crawl.public_id)
