"""A few calls to GitHub's REST API with one token: the sticky comment and commit statuses.

GitHub's answers are handled as GitHub documents them (docs/github.md):
401/403/404 become a readable sentence, secondary rate limits (403/429 with `retry-after` or
`x-ratelimit-reset`) are waited out with exponential backoff within a retry budget, and 502/503/504
and lost connections are retried twice (never a comment POST that may have gone through). Every
request goes through the SSRF guard, with the configured API base trusted.

The sticky comment is found by its marker, but anyone can paste the marker into a comment of their own:
only a marked comment the token's own account wrote is ever edited. Whose the token is comes from
`GET /user` (a personal token), else, since an installation token (a GitHub App, GitHub Actions'
GITHUB_TOKEN) gets a 403 "Resource not accessible by integration" there, from GraphQL's `viewer` (its
bot, `<app>[bot]`). When neither says, Sentri posts a comment of its own rather than edit one that may be
someone else's."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from .. import outbound, ssrf
from .report import clip

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
PER_PAGE = 100  # GitHub's maximum page size for issue comments
MAX_COMMENT_PAGES = 50  # 5,000 comments: a pull request busier than that gets a new Sentri comment
MAX_RATE_LIMIT_RETRIES = 5
MAX_SERVER_ERROR_RETRIES = 2
_PERMISSIONS = {
    "comment": "pull_requests: write (GitHub App or fine-grained token) or the repo scope (classic token)",
    "status": "statuses: write (GitHub App or fine-grained token) or the repo scope (classic token)",
    "identity": "no permission: any valid token may read whose it is",
}
VIEWER_QUERY = "query { viewer { login databaseId } }"


@dataclass(frozen=True)
class Identity:
    """The account a token acts as: a user (personal token) or a GitHub App's bot (installation token)."""

    login: str
    id: int | None

    def wrote(self, comment: dict) -> bool:
        """Tell whether this account wrote the comment (by id when both have one: logins can be renamed)."""
        user = comment.get("user")
        if not isinstance(user, dict):  # null: a deleted account
            return False
        if self.id is not None and isinstance(user.get("id"), int):
            return user["id"] == self.id
        return str(user.get("login") or "").lower() == self.login.lower()


def graphql_url(api_base: str) -> str:
    """Return GitHub's GraphQL URL beside a REST API base (/api/graphql beside Enterprise Server's /api/v3)."""
    base = api_base.rstrip("/")
    return base.removesuffix("/v3") + "/graphql" if base.endswith("/api/v3") else base + "/graphql"


def _identity(login: Any, number: Any) -> Identity | None:
    if not isinstance(login, str) or not login:
        return None
    return Identity(login, number if isinstance(number, int) and not isinstance(number, bool) else None)


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
    details = [
        str(e.get("message") or e.get("code")) for e in data.get("errors") or [] if isinstance(e, dict)
    ]
    return clip("; ".join([message, *details]) if details else message, 300)


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
    limited = (
        response.status_code == 429
        or retry_after
        or remaining == "0"
        or ("rate limit" in _github_message(response).lower())
    )
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
        self._pool = outbound.PinnedPool()  # one kept-alive connection for a report's few requests

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
                f"{self.retry_seconds:.0f} s retry budget (SENTRI_GITHUB_RETRY_SECONDS); gave up.",
                429,
            )
        self.waited += seconds
        if self._stopping.wait(seconds):
            raise GitHubError(f"{why}: the server is stopping; gave up waiting to retry.")

    def call(
        self,
        method: str,
        url: str,
        what: str,
        *,
        kind: str = "comment",
        json: Any = None,
        trusted: str | None = None,
    ) -> requests.Response:
        """Send one request (retrying rate limits and server errors within the budget) and return a
        2xx answer, or raise GitHubError with a sentence saying what went wrong and what to do.
        `trusted` is a URL outside the API base that is as trusted (GraphQL on Enterprise Server)."""
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "sentri",
        }
        # A comment POST that lost its connection may have been created: never send it twice.
        may_resend = method != "POST" or kind != "comment"
        rate_hits = server_errors = 0
        while True:
            try:
                response = outbound.request(
                    method,
                    url,
                    trusted_base=trusted or self.api_base,
                    field="GitHub API URL",
                    timeout=(5.0, 20.0),
                    headers=headers,
                    json=json,
                    pool=self._pool,
                )
            except ssrf.UnsafeURLError as exc:
                raise GitHubError(f"Could not {what}: {exc}") from None
            except requests.ConnectionError as exc:
                if may_resend and server_errors < MAX_SERVER_ERROR_RETRIES:
                    server_errors += 1
                    self._sleep(float(server_errors), f"Could not {what}")
                    continue
                raise GitHubError(
                    f"Could not {what}: GitHub at {self.api_base} did not answer ({type(exc).__name__})."
                ) from None
            except requests.RequestException as exc:
                raise GitHubError(
                    f"Could not {what}: {type(exc).__name__} talking to {self.api_base}."
                ) from None
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
                self._sleep(2.0**server_errors, f"Could not {what} (GitHub answered {status})")
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
            return (
                f"Could not {what}: GitHub answered {said}; the repository or pull request does not exist "
                f"or the token cannot see it (a private repository needs {_PERMISSIONS[kind]})."
            )
        if rate_limit_wait(response, 1, time.time()) is not None:
            return f"Could not {what}: GitHub's rate limit ({said}) was still in force after {MAX_RATE_LIMIT_RETRIES} retries."
        return f"Could not {what}: GitHub answered {said}."

    # -- operations --------------------------------------------------------------------------
    def whoami(self) -> Identity | None:
        """Return the account the token acts as; None when GitHub does not say (GitHubError for a bad token)."""
        try:
            response = self.call(
                "GET", f"{self.api_base}/user", "find out whose the token is", kind="identity"
            )
        except GitHubError as exc:
            if exc.status != 403:
                raise
            return self._viewer()  # an installation token: GET /user is not for integrations
        try:
            user = response.json()
        except ValueError:
            return None
        return _identity(user.get("login"), user.get("id")) if isinstance(user, dict) else None

    def _viewer(self) -> Identity | None:
        """Return the bot an installation token acts as, from GraphQL's viewer (databaseId is its REST id)."""
        url = graphql_url(self.api_base)
        try:
            answer = self.call(
                "POST",
                url,
                "find out whose the token is",
                kind="identity",
                json={"query": VIEWER_QUERY},
                trusted=url,
            ).json()
        except (GitHubError, ValueError) as exc:
            log.warning("GitHub's GraphQL viewer did not say whose the token is: %s", exc)
            return None
        viewer = ((answer.get("data") if isinstance(answer, dict) else None) or {}).get("viewer")
        return _identity(viewer.get("login"), viewer.get("databaseId")) if isinstance(viewer, dict) else None

    def find_comment(self, repo: str, number: int, mark: str) -> dict | None:
        """Return the first comment carrying `mark` that the token's own account wrote, through every page."""
        url: str | None = f"{self.api_base}/repos/{repo}/issues/{number}/comments?per_page={PER_PAGE}"
        pages = 0
        me: Identity | None = None
        asked = False
        while url and pages < MAX_COMMENT_PAGES:
            response = self.call("GET", url, f"read the comments of {repo}#{number}")
            pages += 1
            comments = response.json()
            for comment in comments if isinstance(comments, list) else []:
                if not isinstance(comment, dict) or mark not in str(comment.get("body") or ""):
                    continue
                if not asked:  # asked once, and only when a marked comment is there to tell apart
                    me, asked = self.whoami(), True
                    if me is None:
                        log.warning(
                            "GitHub did not say whose the token is: a new comment is posted on %s#%s "
                            "rather than one with the marker edited, which may be someone else's",
                            repo,
                            number,
                        )
                        return None
                if me is not None and me.wrote(comment):  # theirs is left alone, whoever they are
                    return comment
            url = response.links.get("next", {}).get("url")
        return None

    def upsert_comment(self, repo: str, number: int, mark: str, body: str) -> tuple[str, dict]:
        """Update Sentri's own comment for this project on the pull request, or create it."""
        existing = self.find_comment(repo, number, mark)
        if existing is not None and existing.get("id") is not None:
            response = self.call(
                "PATCH",
                f"{self.api_base}/repos/{repo}/issues/comments/{int(existing['id'])}",
                f"update the comment on {repo}#{number}",
                json={"body": body},
            )
            return "updated", response.json()
        response = self.call(
            "POST",
            f"{self.api_base}/repos/{repo}/issues/{number}/comments",
            f"comment on {repo}#{number}",
            json={"body": body},
        )
        return "created", response.json()

    def set_status(
        self, repo: str, sha: str, *, state: str, description: str, target_url: str, context: str
    ) -> dict:
        response = self.call(
            "POST",
            f"{self.api_base}/repos/{repo}/statuses/{sha}",
            f"set the commit status on {sha[:7]}",
            kind="status",
            json={"state": state, "description": description, "target_url": target_url, "context": context},
        )
        return response.json()
