"""GitHub reporting: a sticky pull-request comment and commit statuses for runs CI triggered.

The caller's `githubToken` is request-scoped: the reporter holds it in memory for its run only and
drops it when the run's final report is posted. It is never written to the database, a log or an
error message; a run whose server restarted before it ended cannot post, and says so.

GitHub's answers are handled as GitHub documents them (shared/real-world/github/FACTS.md):
401/403/404 become a readable message on the run (`integrations.github`), never a failed run;
secondary rate limits (403/429 with `retry-after` or `x-ratelimit-reset`) are waited out with
exponential backoff within SENTRI_GITHUB_RETRY_SECONDS. Every request goes through the SSRF guard,
with the configured API base (SENTRI_GITHUB_API_URL) trusted.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import requests
from flask import Flask
from sqlalchemy import select

from . import github_report, ssrf
from .database import write
from .extensions import db
from .models import Run, TestCase

log = logging.getLogger("sentri.github")

API_VERSION = "2022-11-28"
PER_PAGE = 100  # GitHub's maximum page size for issue comments
MAX_COMMENT_PAGES = 50  # 5,000 comments: a pull request busier than that gets a new Sentri comment
MAX_RATE_LIMIT_RETRIES = 5
MAX_SERVER_ERROR_RETRIES = 2
LOST_TOKEN = (
    "The server restarted before the run ended. The GitHub token is held in memory for its run only, "
    "so neither the comment nor the final commit status could be posted (a pending status stays pending "
    "on GitHub until the next run)."
)
_PERMISSIONS = {
    "comment": "pull_requests: write (GitHub App or fine-grained token) or the repo scope (classic token)",
    "status": "statuses: write (GitHub App or fine-grained token) or the repo scope (classic token)",
}


class GitHubError(Exception):
    """One GitHub request that did not succeed; str() is a sentence for the run page."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def _github_message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason or ""
    if not isinstance(data, dict):
        return ""
    message = str(data.get("message") or "")
    details = [str(e.get("message") or e.get("code")) for e in data.get("errors") or [] if isinstance(e, dict)]
    return github_report.clip("; ".join([message, *details]) if details else message, 300)


def rate_limit_wait(response: requests.Response, hits: int, now: float) -> float | None:
    """Seconds to wait before retrying a rate-limited answer, in GitHub's documented order
    (retry-after, then x-ratelimit-reset when none remain, else at least a minute), doubled for
    each further hit; None when the answer is not a rate limit (a 403 for a missing permission)."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = (headers.get("retry-after") or "").strip()
    remaining = (headers.get("x-ratelimit-remaining") or "").strip()
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    limited = response.status_code == 429 or retry_after or remaining == "0" or (
        "rate limit" in _github_message(response).lower())
    if not limited:
        return None
    if retry_after.isdigit():
        wait = float(retry_after)
    elif remaining == "0" and reset.isdigit():
        wait = max(0.0, int(reset) - now) + 1
    else:
        wait = 60.0
    return wait * 2 ** (hits - 1)


class Client:
    """A few calls to GitHub's REST API with one token, within a retry budget."""

    def __init__(self, api_base: str, token: str, *, retry_seconds: float, stopping: threading.Event):
        self.api_base = api_base.rstrip("/")
        self._token = token
        self.retry_seconds = retry_seconds
        self.waited = 0.0
        self._stopping = stopping
        self._pool = ssrf.PinnedPool()  # one kept-alive connection for a report's few requests

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the token
        return f"Client({self.api_base!r})"

    def _sleep(self, seconds: float, why: str) -> None:
        if self.waited + seconds > self.retry_seconds:
            raise GitHubError(
                f"{why}: GitHub asked to wait {seconds:.0f} s, more than is left of the "
                f"{self.retry_seconds:.0f} s retry budget (SENTRI_GITHUB_RETRY_SECONDS); gave up.", 429)
        self.waited += seconds
        if self._stopping.wait(seconds):
            raise GitHubError(f"{why}: the server is stopping; gave up waiting to retry.")

    def call(self, method: str, url: str, what: str, *, kind: str = "comment", json: Any = None) -> requests.Response:
        """Send one request (retrying rate limits and server errors within the budget) and return a
        2xx answer, or raise GitHubError with a sentence saying what went wrong and what to do."""
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "sentri",
        }
        # A comment POST that lost its connection may have been created: never send it twice.
        may_resend = method != "POST" or kind == "status"
        rate_hits = server_errors = 0
        while True:
            try:
                response = ssrf.request(method, url, trusted_base=self.api_base, field="GitHub API URL",
                                        timeout=(5.0, 20.0), headers=headers, json=json, pool=self._pool)
            except ssrf.UnsafeURLError as exc:
                raise GitHubError(f"Could not {what}: {exc}") from None
            except requests.ConnectionError as exc:
                if may_resend and server_errors < MAX_SERVER_ERROR_RETRIES:
                    server_errors += 1
                    self._sleep(float(server_errors), f"Could not {what}")
                    continue
                raise GitHubError(f"Could not {what}: GitHub at {self.api_base} did not answer "
                                  f"({type(exc).__name__}).") from None
            except requests.RequestException as exc:
                raise GitHubError(f"Could not {what}: {type(exc).__name__} talking to {self.api_base}.") from None
            status = response.status_code
            if status < 400:
                return response
            wait = rate_limit_wait(response, rate_hits + 1, time.time())
            if wait is not None and rate_hits < MAX_RATE_LIMIT_RETRIES:
                rate_hits += 1
                log.info("GitHub rate limit (%s) on %s %s; retrying in %.0f s", status, method, what, wait)
                self._sleep(wait, f"Could not {what} (GitHub rate limit, {status})")
                continue
            if status in (502, 503, 504) and server_errors < MAX_SERVER_ERROR_RETRIES:
                server_errors += 1
                self._sleep(2.0 ** server_errors, f"Could not {what} (GitHub answered {status})")
                continue
            raise GitHubError(self._explain(response, what, kind), status)

    def _explain(self, response: requests.Response, what: str, kind: str) -> str:
        status, message = response.status_code, _github_message(response)
        said = f"{status} {message}".strip()
        if status == 401:
            return f"Could not {what}: GitHub rejected the token ({said}); it is invalid, expired or revoked."
        if status == 403:
            return f"Could not {what}: GitHub refused ({said}); the token needs {_PERMISSIONS[kind]}."
        if status == 404:
            return (f"Could not {what}: GitHub answered {said}; the repository or pull request does not exist "
                    f"or the token cannot see it (a private repository needs {_PERMISSIONS[kind]}).")
        if rate_limit_wait(response, 1, time.time()) is not None:
            return f"Could not {what}: GitHub's rate limit ({said}) was still in force after {MAX_RATE_LIMIT_RETRIES} retries."
        return f"Could not {what}: GitHub answered {said}."

    # -- operations --------------------------------------------------------------------------
    def find_comment(self, repo: str, number: int, mark: str) -> dict | None:
        """Return the first comment on the pull request carrying `mark`, paging through them all."""
        url: str | None = f"{self.api_base}/repos/{repo}/issues/{number}/comments?per_page={PER_PAGE}"
        pages = 0
        while url and pages < MAX_COMMENT_PAGES:
            response = self.call("GET", url, f"read the comments of {repo}#{number}")
            pages += 1
            comments = response.json()
            for comment in comments if isinstance(comments, list) else []:
                if isinstance(comment, dict) and mark in str(comment.get("body") or ""):
                    return comment
            url = response.links.get("next", {}).get("url")
        return None

    def upsert_comment(self, repo: str, number: int, mark: str, body: str) -> tuple[str, dict]:
        """Update Sentri's comment for this project on the pull request, or create it."""
        existing = self.find_comment(repo, number, mark)
        if existing is not None and existing.get("id") is not None:
            response = self.call("PATCH", f"{self.api_base}/repos/{repo}/issues/comments/{int(existing['id'])}",
                                 f"update the comment on {repo}#{number}", json={"body": body})
            return "updated", response.json()
        response = self.call("POST", f"{self.api_base}/repos/{repo}/issues/{number}/comments",
                             f"comment on {repo}#{number}", json={"body": body})
        return "created", response.json()

    def set_status(self, repo: str, sha: str, *, state: str, description: str, target_url: str,
                   context: str) -> dict:
        response = self.call(
            "POST", f"{self.api_base}/repos/{repo}/statuses/{sha}", f"set the commit status on {sha[:7]}",
            kind="status",
            json={"state": state, "description": description, "target_url": target_url, "context": context},
        )
        return response.json()


class GitHubReporter:
    """Holds each run's GitHub token in memory and posts the run's statuses and comment on its own
    threads, in order (pending first, then the final report); app.extensions['sentri_github']."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._tokens: dict[int, str] = {}
        self._started: dict[int, Future] = {}
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
        """Post the run's final report once its pending status has gone out."""
        with self._lock:
            started = self._started.pop(run_id, None)
        if started is None:
            self._submit(run_id)
        else:
            started.add_done_callback(lambda _future: self._submit(run_id))

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
        config = self.app.config
        return Client(config["SENTRI_GITHUB_API_URL"], token, retry_seconds=config["SENTRI_GITHUB_RETRY_SECONDS"],
                      stopping=self._stopping)

    def _status(self, client: Client, run: Run, info: dict, state: str, description: str) -> dict:
        from .notify import run_url

        context = self.app.config["SENTRI_GITHUB_STATUS_CONTEXT"]
        try:
            client.set_status(info["repo"], info["commitSha"], state=state, description=description,
                              target_url=run_url(self.app, run), context=context)
        except GitHubError as exc:
            return {"context": context, "state": state, "error": str(exc), "httpStatus": exc.status}
        return {"context": context, "state": state, "description": description}

    def _post_pending(self, run_id: int) -> None:
        with self._lock:
            token = self._tokens.get(run_id)
        run = db.session.get(Run, run_id)
        info = (run.integrations or {}).get("github") if run else None
        if not token or not info or not info.get("commitSha"):
            return
        with self._client(token) as client:
            status = self._status(client, run, info, "pending", github_report.pending_description(run))
        record(run_id, commitStatus=status)

    def _post_final(self, run_id: int) -> None:

        with self._lock:
            token = self._tokens.pop(run_id, None)
        run = db.session.get(Run, run_id)
        info = (run.integrations or {}).get("github") if run else None
        if not info or info.get("state") != "pending" or run.is_active:
            return
        if token is None:
            record(run_id, state="failed", message=LOST_TOKEN)
            return
        with self._client(token) as client:
            comment, status = self._final_report(client, run, info)
        errors = [part["error"] for part in (comment, status) if part and part.get("error")]
        record(run_id, state="failed" if errors else "posted", comment=comment, commitStatus=status,
               message=_summary(info, comment, status))
        log.info("GitHub report for RUN-%s: %s", run_id, "failed" if errors else "posted")

    def _final_report(self, client: Client, run: Run, info: dict) -> tuple[dict | None, dict | None]:
        """Post the comment (with a PR number) and the final status (with a SHA); return how each went."""
        from .notify import run_url

        comment = status = None
        if info.get("prNumber"):
            failed_ids = [r.test_id for r in run.results if r.status == "failed" and r.test_id]
            steps = {t.id: t.steps for t in db.session.scalars(select(TestCase).where(TestCase.id.in_(failed_ids)))}
            body = github_report.comment_body(run, run_url(self.app, run), steps)
            try:
                action, data = client.upsert_comment(info["repo"], info["prNumber"],
                                                     github_report.marker(run.project.public_id), body)
                comment = {"action": action, "id": data.get("id"), "url": data.get("html_url")}
            except GitHubError as exc:
                comment = {"error": str(exc), "httpStatus": exc.status}
        if info.get("commitSha"):
            prior = info.get("commitStatus") or {}
            if prior.get("httpStatus") in (401, 403, 404):
                status = prior  # the pending status was refused for good: do not ask again
            else:
                status = self._status(client, run, info, github_report.status_state(run),
                                      github_report.final_description(run))
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
            parts.append(f"Commit status '{status['context']}' set to {status['state']} on {info['commitSha'][:7]}.")
    return " ".join(parts)


def initial_state(repo: str | None, pr: int | None, sha: str | None, token: str | None) -> dict[str, Any]:
    """The run's GitHub record when it is created (the token itself is never part of it)."""
    state = {"repo": repo, "prNumber": pr, "commitSha": sha, "comment": None, "commitStatus": None}
    if token:
        return state | {"state": "pending", "message": "Sentri posts to GitHub when the run ends."}
    if token == "":
        why = "githubToken was empty (pull requests from forks get no secrets), so nothing is posted to GitHub."
    else:
        why = "No githubToken was given, so nothing is posted to GitHub."
    return state | {"state": "skipped", "message": why}


def record(run_id: int, **changes: Any) -> None:
    """Merge `changes` into the run's GitHub record."""
    with write():
        run = db.session.get(Run, run_id, populate_existing=True)
        if run is None:
            return
        integrations = dict(run.integrations or {})
        integrations["github"] = {**integrations.get("github", {}), **changes}
        run.integrations = integrations
