"""The review queue over the JSON API (user auth): what waits for a person in a project, decisions one
by one or in bulk, and the pictures (baselines, a run's screenshots and diffs) by their hash."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, url_for
from sqlalchemy import or_, select

from .. import projects
from ..auth import user_required
from ..errors import NotFound, Unavailable
from ..extensions import csrf, db
from ..models import Result
from ..public_ids import get_or_404
from ..review import queue
from ..review.models import Baseline
from ..stores import artifact_store
from ..validation import json_object
from ..visual import crop, store
from .api_runs import readable_run, serve_artifact

bp = Blueprint("api_review", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def baseline_image_url(project_public_id: str):
    return lambda sha: url_for("api_review.baseline_image", project_id=project_public_id, sha=sha)


def crop_image_url(project_public_id: str):
    # The picture's hash in the address: a row given a new picture gets a new address, never a stale crop.
    return lambda row, which: url_for(
        "api_review.crop_image",
        project_id=project_public_id,
        baseline_id=row.public_id,
        which=which,
        v=row.sha256[:16],
    )


@bp.get("/projects/<project_id>/review")
@user_required
def listing(project_id, user):
    project = projects.get(project_id)
    return jsonify(
        queue.listing(project, baseline_image_url(project.public_id), crop_image_url(project.public_id))
    )


@bp.post("/projects/<project_id>/review")
@user_required
def decide_all(project_id, user):
    project = projects.get(project_id)
    decided = queue.decide_all(project, queue.parse_bulk(json_object()), user)
    return jsonify({**decided, "counts": queue.counts(project)})


@bp.post("/projects/<project_id>/review/<item_id>/<any(approve, accept, reject):decision>")
@user_required
def decide(project_id, item_id, decision, user):
    project = projects.get(project_id)
    queue.decide(project, item_id, decision, user)
    return jsonify({"id": item_id, "decision": queue.DECISIONS[decision], "counts": queue.counts(project)})


@bp.get("/projects/<project_id>/baselines/<baseline_id>")
@user_required
def baseline(project_id, baseline_id, user):
    project = projects.get(project_id)
    row = get_or_404(Baseline, baseline_id, project=project)
    return jsonify(
        queue.serialize_baseline(
            row, baseline_image_url(project.public_id), crop_image_url(project.public_id)
        )
    )


def _send(sha: str):
    try:
        key = store.key_of(sha)
    except ValueError:
        key = None
    return serve_artifact(
        key, "image/png", f"No picture {sha}.", max_age=86400
    )  # named by its content: never changes


@bp.get("/projects/<project_id>/visual/<sha>.png")
@user_required
def baseline_image(project_id, sha, user):
    """A picture of one of the project's baselines (the baseline, or its diff)."""
    project = projects.get(project_id)
    known = db.session.scalar(
        select(Baseline.id)
        .where(Baseline.project_id == project.id, or_(Baseline.sha256 == sha, Baseline.diff_sha256 == sha))
        .limit(1)
    )
    if known is None:
        raise NotFound(f"No picture {sha} in project {project.public_id}.")
    return _send(sha)


@bp.get("/projects/<project_id>/baselines/<baseline_id>/changed-area/<any(expected, actual):which>.png")
@user_required
def crop_image(project_id, baseline_id, which, user):
    """A changed screenshot's approved baseline (`expected`) or new picture (`actual`) cut to where its
    pixels changed, and a margin (visual/crop.py); 404 for a picture with no changed area recorded."""
    project = projects.get(project_id)
    row = get_or_404(Baseline, baseline_id, project=project)
    expected = db.session.get(Baseline, row.compared_with_id) if row.compared_with_id else None
    if not row.diff_box or expected is None:
        raise NotFound(f"{row.public_id} has no changed area recorded.")
    sha = expected.sha256 if which == "expected" else row.sha256
    try:
        png = store.read(artifact_store(), sha)
    except OSError:
        raise Unavailable("The artifact store did not answer; try again shortly.") from None
    if png is None:
        raise NotFound(f"No picture {sha}.")
    try:
        part = crop.cropped(png, row.diff_box)
    except ValueError as exc:
        raise NotFound(f"The picture {sha} cannot be cut: {exc}") from None
    response = Response(part, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=86400"  # its address names the picture
    return response


@bp.get("/runs/<run_id>/visual/<sha>.png")
def run_image(run_id, sha):
    """A picture one of the run's screenshot steps compared (expected, actual or diff); a trigger token of
    the run's project may read it, like the run's failure screenshots."""
    run = readable_run(run_id)
    for (snapshots,) in db.session.execute(
        select(Result.snapshots).where(Result.run_id == run.id, Result.snapshots.is_not(None))
    ):
        for entry in snapshots or []:
            if sha in (entry.get("sha256"), entry.get("expectedSha256"), entry.get("diffSha256")):
                return _send(sha)
    raise NotFound(f"No picture {sha} in run {run.public_id}.")
