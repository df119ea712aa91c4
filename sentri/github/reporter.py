"""GitHub reporting: a sticky pull-request comment and commit statuses for runs CI triggered.

The caller's `githubToken` is request-scoped: the reporter holds it in memory for its run only and
drops it when the run's final report is posted. It is never written to the database, a log or an
error message; a run whose server restarted before it ended cannot post, and says so.

GitHub's answers are handled as GitHub documents them (docs/github.md):
401/403/404 become a readable message on the run (`integrations.github`), never a failed run;
secondary rate limits (403/429 with `retry-after` or `x-ratelimit-reset`) are waited out with
exponential backoff within SENTRI_GITHUB_RETRY_SECONDS. Every request goes through the SSRF guard,
with the configured API base (SENTRI_GITHUB_API_URL) trusted.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from flask import Flask
from sqlalchemy import select

from .. import metrics
from ..extensions import db
from ..models import ACTIVE_RUN_STATUSES, Run, TestCase
from ..reports.serialize import run_url
from ..settings import settings
from . import report
from .client import Client, GitHubError
from .state import LOST_TOKEN, record

log = logging.getLogger(__name__)


class GitHubReporter:
    """Holds each run's GitHub token in memory and posts the run's statuses and comment on its own
    threads, in order (pending first, then the final report); runtime(app).github."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._tokens: dict[int, str] = {}
        self._started: dict[int, Future] = {}
        self._finishing: set[int] = set()  # final report scheduled: asked twice (hook, catch_up), posted once
        self._stopping = threading.Event()
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sentri-github")

    def __repr__(self) -> str:
        return f"GitHubReporter(runs={sorted(self._tokens)})"

    # -- called by the trigger and the engine ------------------------------------------------
    def run_started(self, run_id: int, token: str | None) -> None:
        """Keep the run's token (memory only) and post its pending commit status."""
        if not token:
            return
        with self._lock:
            self._tokens[run_id] = token
            self._started[run_id] = self.executor.submit(self._guarded, self._post_pending, run_id)

    def run_finished(self, run_id: int) -> None:
        """Post the run's final report once its pending status has gone out; only the process holding the
        run's token can (the run may have ended in another: catch_up() notices that)."""
        with self._lock:
            if run_id not in self._tokens or run_id in self._finishing:
                return
            self._finishing.add(run_id)
            started = self._started.pop(run_id, None)
        if started is None:
            self._submit(run_id)
        else:
            started.add_done_callback(lambda _future: self._submit(run_id))

    def catch_up(self, alive: set[str]) -> None:
        """Every few seconds: post for held runs that ended in another process, and say so on runs whose
        token died with the process holding it (the only place it ever was)."""
        with self._lock:
            held = list(self._tokens)
        if held:
            # Ended for good, not merely `finished_at` set: that is taken before the verdict is written.
            for run_id in db.session.scalars(
                select(Run.id).where(Run.id.in_(held), Run.status.not_in(ACTIVE_RUN_STATUSES))
            ):
                self.run_finished(run_id)
        waiting = db.session.execute(
            select(Run.id, Run.integrations)
            .where(Run.notify_state == "sent", Run.integrations.is_not(None))
            .order_by(Run.id.desc())
            .limit(200)
        ).all()
        db.session.commit()
        for run_id, integrations in waiting:
            info = (integrations or {}).get("github") or {}
            if info.get("state") == "pending" and info.get("holder") not in alive and run_id not in held:
                record(run_id, state="failed", message=LOST_TOKEN)

    def shutdown(self) -> None:
        """Let queued reports go out without waiting on rate limits any more, then stop."""
        self._stopping.set()
        self.executor.shutdown(wait=True)

    # -- on the reporter's threads -----------------------------------------------------------
    def _submit(self, run_id: int) -> None:
        try:
            self.executor.submit(self._guarded, self._post_final, run_id)
        except RuntimeError:  # the executor is shut down: the process is exiting
            with self._lock:
                self._tokens.pop(run_id, None)

    def _guarded(self, post, run_id: int) -> None:
        try:
            with self.app.app_context():
                post(run_id)
        except Exception:  # a report is best-effort: it never changes the run's outcome
            log.exception("GitHub report for RUN-%s failed", run_id)

    def _client(self, token: str) -> Client:
        config = settings(self.app)
        return Client(
            config.github_api_url, token, retry_seconds=config.github_retry_seconds, stopping=self._stopping
        )

    def _status(self, client: Client, run: Run, info: dict, state: str, description: str) -> dict:
        context = settings(self.app).github_status_context
        if report.variant(run):
            context = f"{context} ({report.variant(run)})"
        try:
            client.set_status(
                info["repo"],
                info["commitSha"],
                state=state,
                description=description,
                target_url=run_url(self.app, run),
                context=context,
            )
        except GitHubError as exc:
            metrics.count_github("failed", kind="status")
            return {"context": context, "state": state, "error": str(exc), "httpStatus": exc.status}
        metrics.count_github("posted", kind="status")
        return {"context": context, "state": state, "description": description}

    def _post_pending(self, run_id: int) -> None:
        with self._lock:
            token = self._tokens.get(run_id)
        run = db.session.get(Run, run_id)
        info = (run.integrations or {}).get("github") if run else None
        if not token or not info or not info.get("commitSha"):
            return
        with self._client(token) as client:
            status = self._status(client, run, info, "pending", report.pending_description(run))
        record(run_id, commitStatus=status)

    def _post_final(self, run_id: int) -> None:
        run = db.session.get(Run, run_id)
        with self._lock:
            self._finishing.discard(run_id)
            if run is not None and run.is_active:
                return  # asked too early: the token stays for the end's own hook (or the next catch_up)
            token = self._tokens.pop(run_id, None)
        info = (run.integrations or {}).get("github") if run else None
        if not info or info.get("state") != "pending" or token is None:
            return
        with self._client(token) as client:
            comment, status = self._final_report(client, run, info)
        errors = [part["error"] for part in (comment, status) if part and part.get("error")]
        record(
            run_id,
            state="failed" if errors else "posted",
            comment=comment,
            commitStatus=status,
            message=_summary(info, comment, status),
        )
        log.info("GitHub report for RUN-%s: %s", run_id, "failed" if errors else "posted")

    def _final_report(self, client: Client, run: Run, info: dict) -> tuple[dict | None, dict | None]:
        """Post the comment (with a PR number) and the final status (with a SHA); return how each went."""
        comment = status = None
        if info.get("prNumber"):
            failed_ids = [r.test_id for r in run.results if r.status == "failed" and r.test_id]
            steps = {
                t.id: t.steps for t in db.session.scalars(select(TestCase).where(TestCase.id.in_(failed_ids)))
            }
            body = report.comment_body(run, run_url(self.app, run), steps)
            try:
                action, data = client.upsert_comment(
                    info["repo"], info["prNumber"], report.marker(run.project.public_id, run), body
                )
                comment = {"action": action, "id": data.get("id"), "url": data.get("html_url")}
                metrics.count_github("posted", kind="comment")
            except GitHubError as exc:
                comment = {"error": str(exc), "httpStatus": exc.status}
                metrics.count_github("failed", kind="comment")
        if info.get("commitSha"):
            prior = info.get("commitStatus") or {}
            if prior.get("httpStatus") in (401, 403, 404):
                status = prior  # the pending status was refused for good: do not ask again
            else:
                status = self._status(
                    client, run, info, report.status_state(run), report.final_description(run)
                )
        return comment, status


def _summary(info: dict, comment: dict | None, status: dict | None) -> str:
    """One paragraph for the run page: what was posted where, and what was not, with why."""
    parts = []
    if comment is not None:
        if comment.get("error"):
            parts.append(comment["error"])
        else:
            parts.append(f"Comment {comment['action']} on {info['repo']}#{info['prNumber']}.")
    if status is not None:
        if status.get("error"):
            parts.append(status["error"])
        else:
            parts.append(
                f"Commit status '{status['context']}' set to {status['state']} on {info['commitSha'][:7]}."
            )
    return " ".join(parts)
