"""`flask review`: the review queue from the command line: what waits (draft tests, screenshot baselines,
heal proposals) and decisions on it by id, all or none."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from . import projects
from .errors import SentriError
from .review import queue
from .ui.steps import describe_target


@click.group("review")
def review() -> None:
    """The review queue: draft tests, screenshot baselines, heal proposals."""


@review.command("list")
@click.option("--project", "project_id", required=True, help="The project (PRJ-n).")
@with_appcontext
def list_queue(project_id) -> None:
    """Print one line per item that waits: its id, its kind and what changed."""
    try:
        project = projects.get(project_id)
    except SentriError as exc:
        raise click.ClickException(exc.message) from None
    listing = queue.listing(project, image_url=lambda sha: sha[:12])
    for test in listing["tests"]:
        click.echo(f"{test['id']}\tdraft test\t{test['name']}")
    for row in listing["baselines"]:
        ratio = f", {row['diffRatio']:.2%} of pixels differ" if row["diffRatio"] is not None else ""
        click.echo(
            f'{row["id"]}\t{row["change"]} screenshot\t{row["testId"]} "{row["name"]}" '
            f"({row['browser']}, {row['device']}, {row['viewport']}{ratio})"
        )
    for row in listing["heals"]:
        numbers = row["steps"] or [row["step"]]
        where = f"step{'s' if len(numbers) > 1 else ''} {','.join(map(str, numbers))}"
        click.echo(
            f"{row['id']}\theal\t{row['testId']} {where}: {describe_target(row['from'])} -> "
            f"{describe_target(row['to'])} (seen {row['seen']}x)"
        )
    counts = listing["counts"]
    click.echo(
        f"{counts['total']} waiting: {counts['tests']} draft tests, {counts['baselines']} screenshots, "
        f"{counts['heals']} heals"
    )


def _decide(project_id: str, approve: tuple[str, ...], reject: tuple[str, ...]) -> None:
    try:
        project = projects.get(project_id)
        decided = queue.decide_all(
            project, queue.parse_bulk({"approve": list(approve), "reject": list(reject)}), None
        )
    except SentriError as exc:
        raise click.ClickException(exc.message) from None
    for public_id in decided["approved"]:
        click.echo(f"{public_id} approved")
    for public_id in decided["rejected"]:
        click.echo(f"{public_id} rejected")


@review.command("approve")
@click.option("--project", "project_id", required=True, help="The project (PRJ-n).")
@click.argument("ids", nargs=-1, required=True)
@with_appcontext
def approve(project_id, ids) -> None:
    """Approve draft tests and baselines, accept heal proposals (TST-n, BSL-n, HEA-n)."""
    _decide(project_id, ids, ())


@review.command("reject")
@click.option("--project", "project_id", required=True, help="The project (PRJ-n).")
@click.argument("ids", nargs=-1, required=True)
@with_appcontext
def reject(project_id, ids) -> None:
    """Reject draft tests, baselines (the old one stays) and heal proposals (the step keeps failing)."""
    _decide(project_id, (), ids)
