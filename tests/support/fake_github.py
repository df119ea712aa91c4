"""A fake GitHub REST API on 127.0.0.1 for the tests: issue comments and commit statuses.

It emulates api.github.com (``prefix=""``) or GitHub Enterprise Server (``prefix="/api/v3"``) for the
operations Sentri calls, from GitHub's OpenAPI description (npm @octokit/openapi@23.0.2, excerpt in
$SENTRI_SHARED_DIR/real-world/github/ops.json, MIT) and the live-API facts docs/github.md sums up:

* ``GET   /repos/{o}/{r}/issues/{n}/comments``   issues/list-comments (ascending id, since, paging)
* ``POST  /repos/{o}/{r}/issues/{n}/comments``   issues/create-comment (201 + Location)
* ``PATCH /repos/{o}/{r}/issues/comments/{id}``  issues/update-comment
* ``POST  /repos/{o}/{r}/statuses/{sha}``        repos/create-commit-status (201 + Location)
* ``GET   /repos/{o}/{r}/commits/{ref}/statuses`` repos/list-commit-statuses-for-ref (newest first)

Who wrote a comment, and whose a token is, as GitHub answers them (not in ops.json's excerpt):

* A token acts as an account: a user (a personal token, ``add_token(login="sentri-bot")``) or a GitHub
  App's bot (an installation token, GitHub Actions' GITHUB_TOKEN included: a login ending in ``[bot]``,
  ``user.type`` "Bot"). What it creates has that account as ``user``.
* ``GET /user`` (users/get-authenticated) answers a user token with its account, and an installation
  token with 403 "Resource not accessible by integration" (quoted from the live API in
  actions/create-github-app-token#258; the same in octokit and terraform-provider-github reports).
* ``POST /graphql`` (``/api/graphql`` on Enterprise Server, beside ``/api/v3``) answers the one query
  ``{ viewer { login databaseId } }``, for either kind of token (what Renovate asks an installation token;
  databaseId is the account's REST id). ``FakeGitHub(graphql=False)`` has no GraphQL: 404.
* Editing another account's comment needs write access to the repository (``can_edit_others``, on by
  default as for a collaborator's or an App's token); without it the PATCH is a 403.

Request bodies are checked with jsonschema against the operations' requestBody schemas (copied below;
tests/test_fake_github.py checks the copies against ops.json). Every request is recorded before it is
answered. Timestamps come from a clock that moves at least one second per write, so ``updated_at``
always changes on an edit and ``since`` is deterministic.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import jsonschema
import jsonschema.exceptions

from tests.support.sites import _BaseThreadServer

API_VERSION = "2022-11-28"
RATE_LIMIT = 5000  # a personal token's primary limit per hour [FACTS: Rate limits]
COMMENT_MAX = 65536  # [FACTS: Issue comments] body is too long (maximum is 65536 characters)
DESCRIPTION_MAX = 140  # [FACTS: Commit statuses] description is too long (maximum is 140 characters)
REST_DOCS = "https://docs.github.com/rest"
USER_DOCS = "https://docs.github.com/rest/users/users#get-the-authenticated-user"
GRAPHQL_DOCS = "https://docs.github.com/graphql"
VIEWER_QUERIES = {"query { viewer { login databaseId } }", "{ viewer { login databaseId } }"}
SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit and have been temporarily blocked from content "
    "creation. Please retry your request again later."
)

# requestBody schemas from ops.json (OpenAPI 3.0: "nullable" is turned into JSON Schema below).
COMMENT_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"body": {"type": "string"}},
    "required": ["body"],
}
STATUS_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "state": {"type": "string", "enum": ["error", "failure", "pending", "success"]},
        "target_url": {"type": "string", "nullable": True},
        "description": {"type": "string", "nullable": True},
        "context": {"type": "string", "default": "default"},
    },
    "required": ["state"],
}
# components/examples from ops.json: the shapes of the objects the fake answers with.
EXAMPLE_USER: dict[str, Any] = {
    "login": "octocat",
    "id": 1,
    "node_id": "MDQ6VXNlcjE=",
    "avatar_url": "https://github.com/images/error/octocat_happy.gif",
    "gravatar_id": "",
    "url": "https://api.github.com/users/octocat",
    "html_url": "https://github.com/octocat",
    "followers_url": "https://api.github.com/users/octocat/followers",
    "following_url": "https://api.github.com/users/octocat/following{/other_user}",
    "gists_url": "https://api.github.com/users/octocat/gists{/gist_id}",
    "starred_url": "https://api.github.com/users/octocat/starred{/owner}{/repo}",
    "subscriptions_url": "https://api.github.com/users/octocat/subscriptions",
    "organizations_url": "https://api.github.com/users/octocat/orgs",
    "repos_url": "https://api.github.com/users/octocat/repos",
    "events_url": "https://api.github.com/users/octocat/events{/privacy}",
    "received_events_url": "https://api.github.com/users/octocat/received_events",
    "type": "User",
    "site_admin": False,
}
EXAMPLE_COMMENT: dict[str, Any] = {
    "id": 1,
    "node_id": "MDEyOklzc3VlQ29tbWVudDE=",
    "url": "https://api.github.com/repos/octocat/Hello-World/issues/comments/1",
    "html_url": "https://github.com/octocat/Hello-World/issues/1347#issuecomment-1",
    "body": "Me too",
    "user": EXAMPLE_USER,
    "created_at": "2011-04-14T16:00:49Z",
    "updated_at": "2011-04-14T16:00:49Z",
    "issue_url": "https://api.github.com/repos/octocat/Hello-World/issues/1347",
    "author_association": "COLLABORATOR",
    "pin": None,
    "minimized": None,
}
EXAMPLE_STATUS: dict[str, Any] = {
    "url": "https://api.github.com/repos/octocat/Hello-World/statuses/6dcb09b5b57875f334f61aebed695e2e4193db5e",
    "avatar_url": "https://github.com/images/error/hubot_happy.gif",
    "id": 1,
    "node_id": "MDY6U3RhdHVzMQ==",
    "state": "success",
    "description": "Build has completed successfully",
    "target_url": "https://ci.example.com/1000/output",
    "context": "continuous-integration/jenkins",
    "created_at": "2012-07-20T01:19:13Z",
    "updated_at": "2012-07-20T01:19:13Z",
    "creator": EXAMPLE_USER,
}

# operationId -> (method, path pattern under the prefix, externalDocs url, requestBody schema, permission)
_SEG = r"(?P<owner>[^/]+)/(?P<repo>[^/]+)"
OPERATIONS: dict[str, tuple[str, str, str, dict[str, Any] | None, str | None]] = {
    "issues/list-comments": (
        "GET",
        rf"/repos/{_SEG}/issues/(?P<number>\d+)/comments",
        "https://docs.github.com/rest/issues/comments#list-issue-comments",
        None,
        None,
    ),
    "issues/create-comment": (
        "POST",
        rf"/repos/{_SEG}/issues/(?P<number>\d+)/comments",
        "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
        COMMENT_BODY_SCHEMA,
        "can_comment",
    ),
    "issues/update-comment": (
        "PATCH",
        rf"/repos/{_SEG}/issues/comments/(?P<comment_id>\d+)",
        "https://docs.github.com/rest/issues/comments#update-an-issue-comment",
        COMMENT_BODY_SCHEMA,
        "can_comment",
    ),
    "repos/create-commit-status": (
        "POST",
        rf"/repos/{_SEG}/statuses/(?P<sha>.+)",  # x-multi-segment
        "https://docs.github.com/rest/commits/statuses#create-a-commit-status",
        STATUS_BODY_SCHEMA,
        "can_status",
    ),
    "repos/list-commit-statuses-for-ref": (
        "GET",
        rf"/repos/{_SEG}/commits/(?P<ref>.+)/statuses",
        "https://docs.github.com/rest/commits/statuses#list-commit-statuses-for-a-reference",
        None,
        None,
    ),
}


def openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: ``nullable: true`` becomes ``type: [T, "null"]``."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi_to_jsonschema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _error(status: int, message: str, doc: str = REST_DOCS, **extra: Any) -> ApiError:
    return ApiError(status, {"message": message, **extra, "documentation_url": doc, "status": str(status)})


def _node_id(kind: str, number: int) -> str:  # "04:User1" -> MDQ6VXNlcjE= as in the examples
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status, self.body, self.headers = status, body, headers or {}


@dataclass
class Recorded:
    method: str
    path: str  # as received, prefix included, without the query string
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    json: Any  # the parsed body; None when empty or not JSON


@dataclass
class _Token:
    can_comment: bool
    can_status: bool
    login: str
    can_edit_others: bool = True

    @property
    def installation(self) -> bool:
        """A GitHub App's installation token: it acts as the App's bot."""
        return self.login.endswith("[bot]")


@dataclass
class _Repo:
    full_name: str
    pulls: set[int]
    comments: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)  # number -> id -> object
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha -> oldest first


@dataclass
class _Injection:
    status: int
    retry_after: int | None
    remaining: int | None
    reset_in: int | None


class FakeGitHub(_BaseThreadServer):
    """See the module docstring. Start it, add tokens and repos, point the client at ``url``."""

    def __init__(self, prefix: str = "", per_page_max: int = 100, graphql: bool = True) -> None:
        self.prefix = prefix.rstrip("/")
        self.per_page_max = per_page_max
        # api.github.com/graphql; Enterprise Server's /api/graphql beside its REST /api/v3
        self.graphql_path = (self.prefix.removesuffix("/v3") + "/graphql") if graphql else None
        self.requests: list[Recorded] = []
        self._lock = threading.RLock()
        self._tokens: dict[str, _Token] = {}
        self._repos: dict[str, _Repo] = {}  # lower-cased full name: GitHub names are not case sensitive
        self._user_ids: dict[str, int] = {}
        self._injections: deque[_Injection] = deque()
        self._next_id = 1
        self._clock = 0
        self._used = 0
        self._reset = int(time.time()) + 3600
        super().__init__()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    @property
    def root(self) -> str:
        """The server's own origin, without the API prefix."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.root + self.prefix

    # -- set-up and inspection for tests -----------------------------------------------------------

    def add_token(
        self,
        token: str,
        *,
        can_comment: bool = True,
        can_status: bool = True,
        login: str = "sentri-bot",
        can_edit_others: bool = True,
    ) -> None:
        """A token acting as `login`: a user, or with a login ending in [bot] a GitHub App's bot."""
        with self._lock:
            self._tokens[token] = _Token(can_comment, can_status, login, can_edit_others)

    def user_id(self, login: str) -> int:
        """The REST id of an account (the same in every object that names it)."""
        with self._lock:
            return self._user(login)["id"]

    def add_repo(self, full_name: str, pulls: Iterable[int] = ()) -> None:
        with self._lock:
            repo = self._repos.setdefault(full_name.lower(), _Repo(full_name, set()))
            repo.pulls.update(pulls)

    def seed_comments(
        self, full_name: str, number: int, bodies: list[str], login: str = "someone"
    ) -> list[int]:
        with self._lock:
            repo = self._repos[full_name.lower()]
            repo.pulls.add(number)
            return [self._new_comment(repo, number, body, login)["id"] for body in bodies]

    def comments(self, full_name: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            found = self._repos[full_name.lower()].comments.get(number, {})
            return copy.deepcopy([found[i] for i in sorted(found)])

    def statuses(self, full_name: str, sha: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._repos[full_name.lower()].statuses.get(sha, []))

    def rate_limit_next(
        self,
        count: int = 1,
        *,
        status: int = 403,
        retry_after: int | None = 1,
        remaining: int | None = None,
        reset_in: int | None = None,
    ) -> None:
        """The next `count` requests get a secondary-rate-limit refusal [FACTS: Rate limits]."""
        assert status in (403, 429), "GitHub refuses with 403 or 429"
        with self._lock:
            self._injections.extend([_Injection(status, retry_after, remaining, reset_in)] * count)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                seen = [f"{r.method} {r.path}" for r in self.requests[-10:]]
                raise AssertionError(f"condition not met within {timeout}s; last requests: {seen}")
            time.sleep(0.02)

    # -- request handling ------------------------------------------------------------------------

    def _answer(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            body, bad_json = (json.loads(raw) if raw.strip() else None), False
        except ValueError:
            body, bad_json = None, True
        with self._lock:
            self.requests.append(Recorded(method, parts.path, query, headers, body))
            self._used += 1
            remaining, reset = max(0, RATE_LIMIT - self._used), self._reset
            try:
                injected = self._injections.popleft() if self._injections else None
                if injected is not None:
                    if injected.remaining is not None:
                        remaining = injected.remaining
                    if injected.reset_in is not None:
                        reset = int(time.time()) + injected.reset_in
                    extra = {} if injected.retry_after is None else {"retry-after": str(injected.retry_after)}
                    raise ApiError(
                        injected.status,
                        {
                            "message": SECONDARY_MESSAGE,
                            "documentation_url": SECONDARY_DOCS,
                            "status": str(injected.status),
                        },
                        extra,
                    )
                status, extra, answer = self._dispatch(method, parts.path, query, headers, body, bad_json)
            except ApiError as e:
                status, extra, answer = e.status, e.headers, e.body
            answer = copy.deepcopy(answer)  # serialised outside the lock
        return (
            status,
            {
                "content-type": "application/json; charset=utf-8",
                "x-github-api-version-selected": API_VERSION,
                "x-ratelimit-limit": str(RATE_LIMIT),
                "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-used": str(RATE_LIMIT - remaining),
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-resource": "core",
                **extra,
            },
            answer,
        )

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
        bad_json: bool,
    ) -> tuple[int, dict[str, str], Any]:
        version = headers.get("x-github-api-version")
        if version is not None and version != API_VERSION:  # as quoted in expipiplus1/update-nix-fetchgit#79
            raise _error(
                400,
                f'The version you specified in the "X-GitHub-API-Version" request header, '
                f'"{version}", is not a supported version. The following versions are '
                f'currently supported: "{API_VERSION}" (most recent).',
            )
        if method == "POST" and path == self.graphql_path:
            return self._graphql(self._authenticate(headers.get("authorization"), GRAPHQL_DOCS), body)
        rel = path[len(self.prefix) :] if path.startswith(self.prefix + "/") else None
        if method == "GET" and rel == "/user":
            token = self._authenticate(headers.get("authorization"))
            if token.installation:
                raise _error(403, "Resource not accessible by integration", USER_DOCS)
            return 200, {}, self._user(token.login)
        op, match = None, None
        for name, (verb, pattern, *_rest) in OPERATIONS.items():
            found = re.fullmatch(pattern, rel) if rel is not None and verb == method else None
            if found:
                op, match = name, found.groupdict()
                break
        if op is None or match is None:
            raise _error(404, "Not Found")
        _verb, _pattern, doc, schema, permission = OPERATIONS[op]
        token = self._authenticate(headers.get("authorization"))
        repo = self._repos.get(f"{unquote(match['owner'])}/{unquote(match['repo'])}".lower())
        number = int(match["number"]) if "number" in match else None
        if repo is None or (number is not None and number not in repo.pulls):
            raise _error(404, "Not Found", doc)
        if permission is not None and not getattr(token, permission):
            raise _error(403, "Resource not accessible by integration", doc)
        if schema is not None:
            if bad_json:
                raise _error(400, "Problems parsing JSON", doc)
            body = {} if body is None else body
            problem = jsonschema.exceptions.best_match(
                jsonschema.Draft202012Validator(openapi_to_jsonschema(schema)).iter_errors(body)
            )
            if problem is not None:
                raise _error(422, "Invalid request.\n\n" + _describe(problem), doc)
        base = f"{self.url}/repos/{repo.full_name}"
        if op == "issues/list-comments":
            assert number is not None
            items = sorted(repo.comments.get(number, {}).items())
            if "since" in query:
                try:
                    since = datetime.fromisoformat(query["since"])
                    since = since.replace(tzinfo=UTC) if since.tzinfo is None else since
                except ValueError:
                    raise _error(
                        422, f"Invalid request.\n\nInvalid value for 'since': {query['since']}.", doc
                    ) from None
                items = [(i, c) for i, c in items if datetime.fromisoformat(c["updated_at"]) >= since]
            return self._paged([c for _i, c in items], path, query)
        if op == "repos/list-commit-statuses-for-ref":
            return self._paged(list(reversed(repo.statuses.get(unquote(match["ref"]), []))), path, query)
        if op == "issues/create-comment":
            assert number is not None
            _check_length(body["body"], COMMENT_MAX, "IssueComment", "body", doc)
            made = self._new_comment(repo, number, body["body"], token.login)
            return 201, {"location": made["url"]}, made
        if op == "issues/update-comment":
            cid = int(match["comment_id"])
            found = next((c for by_id in repo.comments.values() for i, c in by_id.items() if i == cid), None)
            if found is None:
                raise _error(404, "Not Found", doc)
            if found["user"]["login"] != token.login and not token.can_edit_others:
                raise _error(403, "Resource not accessible by integration", doc)
            _check_length(body["body"], COMMENT_MAX, "IssueComment", "body", doc)
            found.update(body=body["body"], updated_at=self._tick())
            return 200, {}, found
        sha = unquote(match["sha"])  # repos/create-commit-status
        if body.get("description") is not None:
            _check_length(body["description"], DESCRIPTION_MAX, "Status", "description", doc)
        sid, now = self._new_id(), self._tick()
        user = self._user(token.login)
        status = dict(
            EXAMPLE_STATUS,
            url=f"{base}/statuses/{sha}",
            avatar_url=user["avatar_url"],
            id=sid,
            node_id=_node_id("Status", sid),
            state=body["state"],
            target_url=body.get("target_url"),
            description=body.get("description"),
            context=body.get("context", "default"),
            created_at=now,
            updated_at=now,
            creator=user,
        )
        repo.statuses.setdefault(sha, []).append(status)
        return 201, {"location": status["url"]}, status

    def _authenticate(self, header: str | None, doc: str = REST_DOCS) -> _Token:
        if not header:
            raise _error(401, "Requires authentication", doc)
        scheme, _, secret = header.partition(" ")
        token = self._tokens.get(secret.strip()) if scheme.lower() in ("bearer", "token") else None
        if token is None:
            raise _error(401, "Bad credentials", doc)
        return token

    def _graphql(self, token: _Token, body: Any) -> tuple[int, dict[str, str], Any]:
        """The viewer query only; GraphQL reports a query it cannot answer with 200 and `errors`."""
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str) or re.sub(r"\s+", " ", query).strip() not in VIEWER_QUERIES:
            return 200, {}, {"errors": [{"message": "The fake answers only { viewer { login databaseId } }"}]}
        return (
            200,
            {},
            {"data": {"viewer": {"login": token.login, "databaseId": self._user(token.login)["id"]}}},
        )

    def _paged(
        self, items: list[dict[str, Any]], path: str, query: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        """One page, with a Link header built as GitHub does [FACTS: Pagination]."""
        per_page = max(1, min(_int(query.get("per_page"), 30), self.per_page_max))
        page = max(1, _int(query.get("page"), 1))
        last = max(1, -(-len(items) // per_page))
        keep = [(k, v) for k, v in query.items() if k != "page"]  # per_page and since carry over

        def link(n: int, rel: str) -> str:
            return f'<{self.root}{path}?{urlencode([*keep, ("page", n)])}>; rel="{rel}"'

        rels = [link(page - 1, "prev")] if page > 1 else []
        if page < last:
            rels += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            rels.append(link(1, "first"))
        extra = {"link": ", ".join(rels)} if rels else {}
        return 200, extra, items[(page - 1) * per_page : page * per_page]

    def _new_comment(self, repo: _Repo, number: int, text: str, login: str) -> dict[str, Any]:
        cid, now = self._new_id(), self._tick()
        owner_repo = repo.full_name
        made = dict(
            EXAMPLE_COMMENT,
            id=cid,
            node_id=_node_id("IssueComment", cid),
            url=f"{self.url}/repos/{owner_repo}/issues/comments/{cid}",
            html_url=f"https://github.com/{owner_repo}/pull/{number}#issuecomment-{cid}",
            body=text,
            user=self._user(login),
            created_at=now,
            updated_at=now,
            issue_url=f"{self.url}/repos/{owner_repo}/issues/{number}",
        )
        repo.comments.setdefault(number, {})[cid] = made
        return made

    def _user(self, login: str) -> dict[str, Any]:
        uid = self._user_ids.setdefault(login, len(self._user_ids) + 1)
        user = {k: v.replace("octocat", login) if isinstance(v, str) else v for k, v in EXAMPLE_USER.items()}
        user.update(id=uid, node_id=_node_id("User", uid), type="Bot" if login.endswith("[bot]") else "User")
        return user

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _tick(self) -> str:
        """Now, but always at least a second after the previous write."""
        self._clock = max(int(time.time()), self._clock + 1)
        return datetime.fromtimestamp(self._clock, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _describe(error: jsonschema.exceptions.ValidationError) -> str:
    """GitHub's wording for a request that fails its schema, e.g. '"body" wasn't supplied.'"""
    if error.validator == "required":
        missing = next(p for p in error.validator_value if p not in error.instance)
        return f'"{missing}" wasn\'t supplied.'
    where = "/".join(f"properties/{p}" for p in error.absolute_path) or "links/0/schema"
    if error.validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        names = {"object": "an object", "array": "an array", "integer": "an integer", "null": "null"}
        what = " or ".join(names.get(k, f"a {k}") for k in kinds)
    elif error.validator == "enum":
        what = "one of " + json.dumps(error.validator_value)
    else:
        return f"For '{where}', {error.message}."
    return f"For '{where}', {json.dumps(error.instance)} is not {what}."


def _check_length(text: str, limit: int, resource: str, name: str, doc: str) -> None:
    if len(text) > limit:  # the live API's 422 [FACTS]; not in the OpenAPI
        raise _error(
            422,
            "Validation Failed",
            doc,
            errors=[
                {
                    "resource": resource,
                    "code": "custom",
                    "field": name,
                    "message": f"{name} is too long (maximum is {limit} characters)",
                }
            ],
        )


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1  # headers and body leave in one write (flushed per request)
        disable_nagle_algorithm = True  # TCP_NODELAY: a kept-alive client never waits on a delayed ACK

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, out, answer = fake._answer(self.command, self.path, headers, raw)
            except Exception as e:  # a bug in the fake: say so instead of dropping the connection
                status, out, answer = 500, {"content-type": "application/json"}, {"message": f"fake: {e!r}"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in out.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler
