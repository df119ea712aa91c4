"""What both CI surfaces share: start a run from a trigger request, and answer it (202, or the
final status when the caller asked to wait)."""

from __future__ import annotations

from flask import current_app, g, jsonify, request
from flask_limiter.util import get_remote_address

from .. import runs, tokens
from ..errors import Unauthorized, error_response
from ..extensions import db
from ..models import Project, Run, TriggerToken
from ..queue import crawls
from ..reports import serialize
from ..runs.launch import launch
from ..runs.options import parse_options
from ..runtime import runtime
from ..settings import settings
from ..validation import json_body
from .helpers import public_base

# How a `wait: true` request ends (documented in README "Waiting for the result"):
WAIT_PASSED = 200  # the run ended with verdict passed
WAIT_FAILED = 422  # the run ended and its verdict is failed (curl -f exits non-zero)
WAIT_TIMEOUT = 504  # still running after SENTRI_WAIT_MAX_SECONDS (curl -f exits non-zero)
WAITERS_FULL = 503


def start(token: TriggerToken, project: Project, surface: str) -> tuple[Run, runs.RunOptions]:
    """Validate the body, start the run under the project's lock, and hand it to the engine."""
    options = parse_options(json_body(), surface=surface, previous_crawl=crawls.last_settings(project))
    options.extra["publicUrl"] = public_base()
    run = launch(project, options, source="token", triggered_by=token.public_id, token=token)
    return run, options


def wait_and_answer(run: Run, status_url: str, body_for):
    """Hold the request until the run ends (bounded), then answer with its final status body."""
    limit = settings().max_waiters
    waiters = runtime().hooks.waiters
    with waiters.seat(limit) as seated:
        if not seated:
            return error_response(
                f"Too many requests are already waiting for runs ({limit}); the run {run.public_id} was "
                "started: poll statusUrl instead.",
                WAITERS_FULL,
                runId=run.public_id,
                statusUrl=status_url,
            )
        run_id = run.id
        db.session.commit()  # hold no transaction (nor pooled connection state) while waiting

        def finished() -> bool:
            db.session.commit()  # a fresh snapshot each time
            return not db.session.get(Run, run_id).is_active

        seconds = settings().wait_max_seconds
        if not waiters.wait(run_id, seconds, finished):
            return error_response(
                f"The run {run.public_id} is still running after {seconds} s (SENTRI_WAIT_MAX_SECONDS); "
                "poll statusUrl for its result.",
                WAIT_TIMEOUT,
                runId=run.public_id,
                statusUrl=status_url,
                status="running",
            )
        final = db.session.get(Run, run_id)
        body = body_for(final)
        if serialize.verdict(final) == "passed":
            return jsonify(body), WAIT_PASSED
        if not body.get("error"):
            body["error"] = f"The run finished with status {final.status} and verdict failed."
        return jsonify(body), WAIT_FAILED


def status_body(run: Run) -> dict:
    """Return the Sentri status body of a run."""
    return serialize.status_payload(run, serialize.run_url(current_app, run))


def _poll() -> tuple[tokens.PolledToken, tokens.PolledRun | None]:
    """This status poll's token and run, read once per request (by the rate limiter's key, else here)."""
    if "poll" not in g:
        try:
            g.poll = tokens.poll(
                request.headers.get("Authorization"), (request.view_args or {}).get("run_id", "")
            )
        except Unauthorized as exc:
            g.poll = exc
    if isinstance(g.poll, Unauthorized):
        raise g.poll
    return g.poll


def polled_run(project_id: str | None = None) -> tuple[tokens.PolledToken, tokens.PolledRun]:
    """The checked token and run of this status poll (401, 404, 403 as tokens.poll_run says)."""
    token, run = _poll()
    return token, tokens.poll_run(token, run, request.view_args["run_id"], project_id)


def token_key() -> str:
    """Rate-limit key of the status polls: the token's id, so each CI token has its own budget; the
    client address for anything else, so junk bearer strings share one bucket instead of one each.
    Kept for the request: the limiter asks again after the view, when touch() may have expired the token."""
    if "poll_key" not in g:
        try:
            g.poll_key = f"token:{_poll()[0].public_id}"
        except Unauthorized:
            g.poll_key = f"ip:{get_remote_address()}"
    return g.poll_key


def api_limit() -> str:
    return settings().api_rate_limit
