"""Runs over the user API: a project's history, a run with its results, abort, and artifacts."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from .. import bearer, projects, tokens
from ..auth import authenticate_request, user_required
from ..errors import NotFound, Unavailable
from ..extensions import csrf, db
from ..models import Result
from ..public_ids import MAX_KEY
from ..queue import lifecycle
from ..reports import junit, serialize
from ..stores import StoreError, artifact_store
from .helpers import page_args, paginated

bp = Blueprint("api_runs", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def detail(run) -> dict:
    """Return a run's status fields, its options and every result."""
    body = serialize.status_payload(run, serialize.run_url(current_app, run))
    body["triggeredBy"] = run.triggered_by
    body["options"] = {k: v for k, v in run.options.items() if k != "publicUrl"}
    body["plan"] = run.plan or []
    body["results"] = [
        serialize.serialize_result(
            result,
            url_for("api_runs.screenshot", run_id=run.public_id, position=result.position)
            if result.screenshot
            else None,
            url_for("api_runs.trace", run_id=run.public_id, position=result.position)
            if result.trace
            else None,
            lambda sha: url_for("api_review.run_image", run_id=run.public_id, sha=sha),
        )
        for result in run.results
    ]
    return body


@bp.get("/projects/<project_id>/runs")
@user_required
def list_runs(project_id, user):
    project = projects.get(project_id)
    page, per_page, offset = page_args()
    items, total = lifecycle.list_for(project, offset=offset, limit=per_page)
    return paginated(
        [serialize.status_payload(r, serialize.run_url(current_app, r)) for r in items], total, page, per_page
    )


@bp.get("/runs/<run_id>")
@user_required
def read(run_id, user):
    return jsonify(detail(lifecycle.get(run_id)))


@bp.post("/runs/<run_id>/abort")
@user_required
def abort_run(run_id, user):
    run = lifecycle.get(run_id)
    lifecycle.abort(run)  # 409 when it has ended; its running tests stop within seconds, wherever they run
    db.session.commit()  # end the read snapshot taken before the abort, to show what it changed
    return jsonify(detail(lifecycle.get(run_id)))


def readable_run(run_id: str):
    """Return the run if the caller may read it: a trigger token of its project, or a user.
    The caller is authenticated first, so run ids cannot be probed without credentials."""
    header = request.headers.get("Authorization")
    if bearer.holds_trigger_token(header):
        token = tokens.authenticate_token(header)
        run = lifecycle.get(run_id)
        if token.project_id != run.project_id:
            raise NotFound(f"Run {run_id} not found.")
        return run
    authenticate_request()
    return lifecycle.get(run_id)


@bp.get("/runs/<run_id>/junit.xml")
def junit_report(run_id):
    run = readable_run(run_id)
    xml = junit.render(run, run.project, serialize.run_url(current_app, run))
    return Response(
        xml,
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="sentri-{run.public_id}.xml"'},
    )


def serve_artifact(key: str | None, mimetype: str, missing: str, **options) -> Response:
    """Answer with an artifact from the store (streamed from a bucket); 404 saying `missing` when it is gone."""
    try:
        response = artifact_store().response(key, mimetype, **options) if key else None
    except StoreError as exc:
        current_app.logger.warning("the artifact store did not answer: %s", exc)
        raise Unavailable("The artifact store did not answer; try again shortly.") from None
    if response is None:
        raise NotFound(missing)
    return response


def _artifact(run_id: str, position: int, kind: str, mimetype: str, **options) -> Response:
    run = readable_run(run_id)
    result = db.session.query(Result).filter_by(run_id=run.id, position=position).one_or_none()
    key = getattr(result, kind) if result is not None else None
    return serve_artifact(
        key, mimetype, f"No {kind} for test {position} of {run.public_id} (none taken, or pruned).", **options
    )


# A position is a 32-bit column: a larger one would be a database error on PostgreSQL, not a miss.
POSITION = f"<int(max={MAX_KEY}):position>"


@bp.get(f"/runs/<run_id>/results/{POSITION}/screenshot.png")
def screenshot(run_id, position):
    return _artifact(run_id, position, "screenshot", "image/png")


@bp.get(f"/runs/<run_id>/results/{POSITION}/trace.zip")
def trace(run_id, position):
    """The failure's Playwright trace: open it with `playwright show-trace trace.zip`."""
    return _artifact(
        run_id, position, "trace", "application/zip", download_name=f"{run_id}-test{position}-trace.zip"
    )
