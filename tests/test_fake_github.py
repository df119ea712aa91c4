"""The fake GitHub server itself (tests/support/fake_github.py), driven with plain `requests`."""

from __future__ import annotations

import json
import re
import threading
import time

import jsonschema
import pytest
import referencing
import requests
from referencing.jsonschema import DRAFT202012

from tests.support.fake_github import (
    COMMENT_BODY_SCHEMA,
    EXAMPLE_COMMENT,
    EXAMPLE_STATUS,
    EXAMPLE_USER,
    OPERATIONS,
    STATUS_BODY_SCHEMA,
    FakeGitHub,
    openapi_to_jsonschema,
)
from tests.support.shared import shared_path

REPO = "octo/hello"
SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture
def gh():
    with FakeGitHub() as fake:
        fake.add_token("t-all")
        fake.add_token("t-read", can_comment=False, can_status=False)
        fake.add_token("t-comment", can_status=False)
        fake.add_repo(REPO, pulls=[7])
        yield fake


@pytest.fixture
def http():
    with requests.Session() as session:
        session.headers.update(
            {
                "Authorization": "Bearer t-all",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            }
        )
        yield session


def links(response: requests.Response) -> dict[str, str]:
    return {rel: link["url"] for rel, link in response.links.items()}


def test_binds_loopback_only_and_stops():
    fake = FakeGitHub().start()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", fake.url)
    assert fake._server is not None and fake._server.server_address[0] == "127.0.0.1"
    url = fake.url
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)


def test_create_comment_answers_201_location_and_the_comment_object(gh, http):
    r = http.post(f"{gh.url}/repos/{REPO}/issues/7/comments", json={"body": "Hello"})
    assert r.status_code == 201
    made = r.json()
    cid = made["id"]
    assert r.headers["location"] == made["url"] == f"{gh.url}/repos/{REPO}/issues/comments/{cid}"
    assert made["html_url"] == f"https://github.com/{REPO}/pull/7#issuecomment-{cid}"
    assert made["issue_url"] == f"{gh.url}/repos/{REPO}/issues/7"
    assert made["body"] == "Hello" and made["user"]["login"] == "sentri-bot"
    assert TIMESTAMP.fullmatch(made["created_at"]) and made["created_at"] == made["updated_at"]
    assert set(made) == set(EXAMPLE_COMMENT)  # the shape of ops.json's example
    assert gh.comments(REPO, 7) == [made]


def test_update_comment_changes_body_and_updated_at_and_404s_elsewhere(gh, http):
    gh.add_repo("octo/other", pulls=[1])
    [mine] = gh.seed_comments(REPO, 7, ["old"])
    [theirs] = gh.seed_comments("octo/other", 1, ["x"])
    r = http.patch(f"{gh.url}/repos/{REPO}/issues/comments/{mine}", json={"body": "new"})
    assert r.status_code == 200
    assert r.json()["body"] == "new" and r.json()["updated_at"] > r.json()["created_at"]
    assert gh.comments(REPO, 7)[0]["body"] == "new"
    for cid in (theirs, 99999):
        r = http.patch(f"{gh.url}/repos/{REPO}/issues/comments/{cid}", json={"body": "no"})
        assert r.status_code == 404 and r.json()["message"] == "Not Found"
    assert gh.comments("octo/other", 1)[0]["body"] == "x"


def test_comment_pages_carry_github_link_relations(gh, http):
    ids = gh.seed_comments(REPO, 7, [f"c{i}" for i in range(5)])
    base = f"{gh.url}/repos/{REPO}/issues/7/comments"
    first = http.get(base, params={"per_page": 2})
    assert [c["id"] for c in first.json()] == ids[:2]
    assert links(first) == {"next": f"{base}?per_page=2&page=2", "last": f"{base}?per_page=2&page=3"}
    middle = http.get(links(first)["next"])
    assert [c["id"] for c in middle.json()] == ids[2:4]
    assert links(middle) == {
        "prev": f"{base}?per_page=2&page=1",
        "next": f"{base}?per_page=2&page=3",
        "last": f"{base}?per_page=2&page=3",
        "first": f"{base}?per_page=2&page=1",
    }
    assert re.findall(r'rel="(\w+)"', middle.headers["link"]) == ["prev", "next", "last", "first"]
    end = http.get(links(middle)["next"])
    assert [c["id"] for c in end.json()] == ids[4:]
    assert links(end) == {"prev": f"{base}?per_page=2&page=2", "first": f"{base}?per_page=2&page=1"}
    whole = http.get(base)  # everything fits on one page: no link header
    assert [c["id"] for c in whole.json()] == ids and "link" not in whole.headers


def test_default_page_size_is_30_and_per_page_is_clamped(gh, http):
    ids = gh.seed_comments(REPO, 7, ["x"] * 31)
    r = http.get(f"{gh.url}/repos/{REPO}/issues/7/comments")
    assert len(r.json()) == 30 and links(r)["next"].endswith("/issues/7/comments?page=2")
    assert len(http.get(f"{gh.url}/repos/{REPO}/issues/7/comments", params={"per_page": 500}).json()) == 31
    assert [c["id"] for c in http.get(links(r)["next"]).json()] == ids[30:]
    with FakeGitHub(per_page_max=3) as small:
        small.add_token("t")
        small.add_repo(REPO, pulls=[1])
        small.seed_comments(REPO, 1, ["x"] * 5)
        r = requests.get(
            f"{small.url}/repos/{REPO}/issues/1/comments",
            params={"per_page": 100},
            headers={"Authorization": "token t"},
            timeout=5,
        )
        assert len(r.json()) == 3 and links(r)["last"].endswith("per_page=100&page=2")


def test_since_filters_on_updated_at(gh, http):
    _old, new = gh.seed_comments(REPO, 7, ["old", "new"])
    cut = gh.comments(REPO, 7)[1]["updated_at"]
    r = http.get(f"{gh.url}/repos/{REPO}/issues/7/comments", params={"since": cut})
    assert [c["id"] for c in r.json()] == [new]


def test_enterprise_prefix_is_in_urls_and_links():
    with FakeGitHub(prefix="/api/v3") as ghes:
        ghes.add_token("t")
        ghes.add_repo(REPO, pulls=[3])
        ghes.seed_comments(REPO, 3, ["a", "b"])
        auth = {"Authorization": "Bearer t"}
        assert ghes.url.endswith("/api/v3")
        r = requests.get(f"{ghes.url}/repos/{REPO}/issues/3/comments?per_page=1", headers=auth, timeout=5)
        assert links(r)["next"] == f"{ghes.url}/repos/{REPO}/issues/3/comments?per_page=1&page=2"
        assert r.json()[0]["url"].startswith(f"{ghes.url}/repos/{REPO}/issues/comments/")
        root = ghes.url.removesuffix("/api/v3")
        assert (
            requests.get(f"{root}/repos/{REPO}/issues/3/comments", headers=auth, timeout=5).status_code == 404
        )


def test_statuses_are_created_201_and_listed_newest_first(gh, http):
    url = f"{gh.url}/repos/{REPO}/statuses/{SHA}"
    made = []
    for state in ("pending", "success", "failure"):
        r = http.post(
            url, json={"state": state, "target_url": None, "description": state, "context": "sentri"}
        )
        assert r.status_code == 201 and r.headers["location"] == url == r.json()["url"]
        made.append(r.json())
    r = http.post(url, json={"state": "error"})
    assert (
        r.json()["context"] == "default"
        and r.json()["description"] is None
        and r.json()["target_url"] is None
    )
    made.append(r.json())
    assert set(made[0]) == set(EXAMPLE_STATUS) and made[0]["creator"]["login"] == "sentri-bot"
    assert gh.statuses(REPO, SHA) == made
    listed = http.get(f"{gh.url}/repos/{REPO}/commits/{SHA}/statuses", params={"per_page": 3})
    assert listed.json() == made[::-1][:3]
    assert links(listed)["next"].endswith(f"/commits/{SHA}/statuses?per_page=3&page=2")
    assert http.get(f"{gh.url}/repos/{REPO}/commits/other/statuses").json() == []


def test_comments_carry_their_authors_and_only_a_writer_may_edit_anothers(gh, http):
    gh.add_token("t-app", login="sentri-app[bot]")
    gh.add_token("t-triage", can_edit_others=False, login="triager")
    [theirs] = gh.seed_comments(REPO, 7, ["mine, says mallory"], login="mallory")
    bot = requests.post(
        f"{gh.url}/repos/{REPO}/issues/7/comments",
        json={"body": "from an App"},
        headers={"Authorization": "Bearer t-app"},
        timeout=5,
    ).json()
    assert (bot["user"]["login"], bot["user"]["type"]) == ("sentri-app[bot]", "Bot")
    assert bot["user"]["id"] == gh.user_id("sentri-app[bot]") != gh.user_id("mallory")
    human = gh.comments(REPO, 7)[0]["user"]
    assert (human["login"], human["type"], human["id"]) == ("mallory", "User", gh.user_id("mallory"))
    triage = {"Authorization": "Bearer t-triage"}
    r = requests.patch(
        f"{gh.url}/repos/{REPO}/issues/comments/{theirs}", json={"body": "x"}, headers=triage, timeout=5
    )
    assert r.status_code == 403 and r.json()["message"] == "Resource not accessible by integration"
    [own] = gh.seed_comments(REPO, 7, ["triager's own"], login="triager")
    assert (
        requests.patch(
            f"{gh.url}/repos/{REPO}/issues/comments/{own}", json={"body": "edited"}, headers=triage, timeout=5
        ).status_code
        == 200
    )
    assert (
        http.patch(
            f"{gh.url}/repos/{REPO}/issues/comments/{theirs}", json={"body": "by a writer"}
        ).status_code
        == 200
    )
    assert [c["body"] for c in gh.comments(REPO, 7)] == ["by a writer", "from an App", "edited"]


def test_whose_a_token_is_user_tokens_on_rest_installation_tokens_on_graphql_only(gh, http):
    gh.add_token("t-app", login="sentri-app[bot]")
    me = http.get(f"{gh.url}/user")
    assert me.status_code == 200 and (me.json()["login"], me.json()["type"]) == ("sentri-bot", "User")
    assert me.json()["id"] == gh.user_id("sentri-bot") and set(me.json()) == set(EXAMPLE_USER)
    app = {"Authorization": "Bearer t-app"}
    r = requests.get(f"{gh.url}/user", headers=app, timeout=5)
    assert r.status_code == 403  # as the live API answers an installation token
    assert r.json() == {
        "message": "Resource not accessible by integration",
        "status": "403",
        "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
    }
    viewer = {"query": "query { viewer { login databaseId } }"}
    r = requests.post(f"{gh.url}/graphql", json=viewer, headers=app, timeout=5)
    assert r.json() == {
        "data": {"viewer": {"login": "sentri-app[bot]", "databaseId": gh.user_id("sentri-app[bot]")}}
    }
    assert http.post(f"{gh.url}/graphql", json=viewer).json()["data"]["viewer"]["login"] == "sentri-bot"
    assert "errors" in http.post(f"{gh.url}/graphql", json={"query": "{ repository { id } }"}).json()
    assert requests.post(f"{gh.url}/graphql", json=viewer, timeout=5).status_code == 401
    with FakeGitHub(prefix="/api/v3") as ghes, FakeGitHub(graphql=False) as bare:
        for fake in (ghes, bare):
            fake.add_token("t-app", login="sentri-app[bot]")
        r = requests.post(f"{ghes.root}/api/graphql", json=viewer, headers=app, timeout=5)
        assert r.json()["data"]["viewer"]["login"] == "sentri-app[bot]"  # Enterprise Server: beside /api/v3
        assert requests.post(f"{bare.url}/graphql", json=viewer, headers=app, timeout=5).status_code == 404


def test_authentication_and_permissions(gh, http):
    comments = f"{gh.url}/repos/{REPO}/issues/7/comments"
    r = requests.get(comments, timeout=5)
    assert r.status_code == 401 and r.json()["message"] == "Requires authentication"
    r = requests.get(comments, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert r.status_code == 401
    assert r.json() == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    read = {"Authorization": "token t-read"}
    assert requests.get(comments, headers=read, timeout=5).status_code == 200
    r = requests.post(comments, headers=read, json={"body": "x"}, timeout=5)
    assert r.status_code == 403
    assert r.json() == {
        "message": "Resource not accessible by integration",
        "status": "403",
        "documentation_url": OPERATIONS["issues/create-comment"][2],
    }
    [cid] = gh.seed_comments(REPO, 7, ["x"])
    r = requests.patch(
        f"{gh.url}/repos/{REPO}/issues/comments/{cid}", headers=read, json={"body": "y"}, timeout=5
    )
    assert r.status_code == 403
    only_comment = {"Authorization": "Bearer t-comment"}
    assert requests.post(comments, headers=only_comment, json={"body": "x"}, timeout=5).status_code == 201
    r = requests.post(
        f"{gh.url}/repos/{REPO}/statuses/{SHA}", headers=only_comment, json={"state": "success"}, timeout=5
    )
    assert r.status_code == 403 and r.json()["documentation_url"].endswith("#create-a-commit-status")
    assert [c["body"] for c in gh.comments(REPO, 7)] == ["x", "x"] and gh.statuses(REPO, SHA) == []


def test_unknown_repo_issue_or_route_is_404(gh, http):
    doc = OPERATIONS["issues/list-comments"][2]
    for path in ("/repos/octo/nope/issues/7/comments", f"/repos/{REPO}/issues/8/comments"):
        r = http.get(gh.url + path)
        assert r.status_code == 404
        assert r.json() == {"message": "Not Found", "documentation_url": doc, "status": "404"}
    assert http.get(f"{gh.url}/repos/OCTO/Hello/issues/7/comments").status_code == 200  # names ignore case
    assert http.get(f"{gh.url}/users/octocat").status_code == 404
    assert http.delete(f"{gh.url}/repos/{REPO}/issues/7/comments").status_code == 404


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, '"body" wasn\'t supplied.'),
        ({"body": 5}, "For 'properties/body', 5 is not a string."),
        ("text", "For 'links/0/schema', \"text\" is not an object."),
    ],
)
def test_comment_bodies_are_checked_against_the_schema(gh, http, body, detail):
    r = http.post(f"{gh.url}/repos/{REPO}/issues/7/comments", json=body)
    assert r.status_code == 422
    assert r.json() == {
        "message": "Invalid request.\n\n" + detail,
        "status": "422",
        "documentation_url": OPERATIONS["issues/create-comment"][2],
    }
    assert gh.comments(REPO, 7) == []


def test_status_bodies_are_checked_against_the_schema(gh, http):
    url = f"{gh.url}/repos/{REPO}/statuses/{SHA}"
    r = http.post(url, json={"state": "done"})
    assert r.status_code == 422
    assert r.json()["message"] == (
        "Invalid request.\n\nFor 'properties/state', \"done\" is not one of "
        '["error", "failure", "pending", "success"].'
    )
    r = http.post(url, json={"state": "success", "target_url": 5})
    assert (
        r.json()["message"] == "Invalid request.\n\nFor 'properties/target_url', 5 is not a string or null."
    )
    r = http.post(url, json={"description": "x"})
    assert r.json()["message"] == 'Invalid request.\n\n"state" wasn\'t supplied.'
    assert gh.statuses(REPO, SHA) == []


def test_length_limits_answer_the_live_apis_422(gh, http):
    comments = f"{gh.url}/repos/{REPO}/issues/7/comments"
    assert http.post(comments, json={"body": "x" * 65536}).status_code == 201
    r = http.post(comments, json={"body": "é" * 65537})
    assert r.status_code == 422
    assert r.json() == {
        "message": "Validation Failed",
        "errors": [
            {
                "resource": "IssueComment",
                "code": "custom",
                "field": "body",
                "message": "body is too long (maximum is 65536 characters)",
            }
        ],
        "documentation_url": OPERATIONS["issues/create-comment"][2],
        "status": "422",
    }
    cid = gh.comments(REPO, 7)[0]["id"]
    r = http.patch(f"{gh.url}/repos/{REPO}/issues/comments/{cid}", json={"body": "x" * 65537})
    assert r.status_code == 422 and r.json()["errors"][0]["resource"] == "IssueComment"
    statuses = f"{gh.url}/repos/{REPO}/statuses/{SHA}"
    assert http.post(statuses, json={"state": "success", "description": "d" * 140}).status_code == 201
    r = http.post(statuses, json={"state": "success", "description": "d" * 141})
    assert r.status_code == 422 and r.json()["message"] == "Validation Failed"
    assert r.json()["errors"] == [
        {
            "resource": "Status",
            "code": "custom",
            "field": "description",
            "message": "description is too long (maximum is 140 characters)",
        }
    ]
    assert len(gh.comments(REPO, 7)) == 1 and len(gh.statuses(REPO, SHA)) == 1


def test_malformed_json_and_unsupported_api_version_are_400(gh, http):
    r = http.post(
        f"{gh.url}/repos/{REPO}/issues/7/comments",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["message"] == "Problems parsing JSON"
    r = http.get(f"{gh.url}/repos/{REPO}/issues/7/comments", headers={"X-GitHub-Api-Version": "v3"})
    assert r.status_code == 400 and '"v3", is not a supported version' in r.json()["message"]
    assert gh.comments(REPO, 7) == []
    no_version = requests.get(
        f"{gh.url}/repos/{REPO}/issues/7/comments", headers={"Authorization": "Bearer t-all"}, timeout=5
    )
    assert no_version.status_code == 200


def test_every_response_carries_primary_rate_limit_headers(gh, http):
    seen = []
    for url in (f"{gh.url}/repos/{REPO}/issues/7/comments", f"{gh.url}/nowhere"):
        r = http.get(url)
        assert r.headers["content-type"] == "application/json; charset=utf-8"
        assert r.headers["x-ratelimit-limit"] == "5000" and r.headers["x-ratelimit-resource"] == "core"
        remaining, used = int(r.headers["x-ratelimit-remaining"]), int(r.headers["x-ratelimit-used"])
        assert remaining + used == 5000 and int(r.headers["x-ratelimit-reset"]) > time.time()
        seen.append(remaining)
    assert seen[1] == seen[0] - 1


def test_rate_limit_next_refuses_then_recovers_without_changing_state(gh, http):
    gh.rate_limit_next(2, status=429, retry_after=3, remaining=0, reset_in=60)
    comments = f"{gh.url}/repos/{REPO}/issues/7/comments"
    for _ in range(2):
        r = http.post(comments, json={"body": "x"})
        assert r.status_code == 429
        assert r.json() == {
            "message": "You have exceeded a secondary rate limit and have been temporarily blocked from content "
            "creation. Please retry your request again later.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
            "#about-secondary-rate-limits",
            "status": "429",
        }
        assert r.headers["retry-after"] == "3" and r.headers["x-ratelimit-remaining"] == "0"
        assert abs(int(r.headers["x-ratelimit-reset"]) - (time.time() + 60)) < 5
    assert gh.comments(REPO, 7) == []
    gh.rate_limit_next()  # defaults: one 403 with retry-after 1, on any route, even unauthenticated
    r = requests.get(f"{gh.url}/nowhere", timeout=5)
    assert r.status_code == 403 and r.json()["status"] == "403" and r.headers["retry-after"] == "1"
    gh.rate_limit_next(retry_after=None)
    r = http.get(comments)
    assert (
        r.status_code == 403 and "retry-after" not in r.headers and r.headers["x-ratelimit-remaining"] != "0"
    )
    assert http.post(comments, json={"body": "x"}).status_code == 201
    assert [(q.method, q.path) for q in gh.requests][-2:] == [
        ("GET", f"/repos/{REPO}/issues/7/comments"),
        ("POST", f"/repos/{REPO}/issues/7/comments"),
    ]
    assert len(gh.requests) == 5


def test_requests_are_recorded_including_refused_ones():
    with FakeGitHub(prefix="/api/v3") as fake:
        fake.add_token("t")
        fake.add_repo(REPO, pulls=[7])
        requests.post(
            f"{fake.url}/repos/{REPO}/issues/7/comments?x=1&x=2",
            json={"body": "hi"},
            headers={"Authorization": "Bearer t", "X-Custom": "Yes"},
            timeout=5,
        )
        requests.post(f"{fake.url}/repos/{REPO}/issues/7/comments", data=b"{", timeout=5)  # 401 + bad JSON
        ok, refused = fake.requests
        assert (ok.method, ok.path, ok.query, ok.json) == (
            "POST",
            f"/api/v3/repos/{REPO}/issues/7/comments",
            {"x": "2"},
            {"body": "hi"},
        )
        assert ok.headers["authorization"] == "Bearer t" and ok.headers["x-custom"] == "Yes"
        assert refused.json is None and "authorization" not in refused.headers


def test_concurrent_writes_are_all_recorded_and_kept(gh):
    def post(i: int) -> None:
        requests.post(
            f"{gh.url}/repos/{REPO}/issues/7/comments",
            json={"body": str(i)},
            headers={"Authorization": "Bearer t-all"},
            timeout=10,
        )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    gh.wait_for(lambda: len(gh.comments(REPO, 7)) == 20, timeout=10)
    for t in threads:
        t.join()
    ids = [c["id"] for c in gh.comments(REPO, 7)]
    assert ids == sorted(set(ids)) and len(gh.requests) == 20
    assert sorted(int(c["body"]) for c in gh.comments(REPO, 7)) == list(range(20))


def test_wait_for_raises_assertion_error_when_the_condition_never_holds(gh):
    gh.wait_for(lambda: True)
    with pytest.raises(AssertionError, match="not met within 0.1s"):
        gh.wait_for(lambda: False, timeout=0.1)


# -- the fake against ops.json ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def ops():
    return json.loads(shared_path("real-world", "github", "ops.json").read_text())


def _strip_descriptions(node):
    if isinstance(node, dict):
        # drop the prose "description" annotations, not a property named "description"
        return {
            k: _strip_descriptions(v)
            for k, v in node.items()
            if not (k == "description" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_strip_descriptions(v) for v in node]
    return node


def test_copied_schemas_and_examples_match_ops_json(ops):
    paths = ops["paths"]
    for op_id, (method, pattern, doc, schema, _perm) in OPERATIONS.items():
        [(path, verb, spec)] = [
            (p, m, v) for p, item in paths.items() for m, v in item.items() if v.get("operationId") == op_id
        ]
        assert verb == method.lower() and doc == spec["externalDocs"]["url"]
        assert re.fullmatch(pattern, re.sub(r"\{\w+\}", "1", path)), (pattern, path)
        body = spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        assert (_strip_descriptions(body) if body else None) == schema
    assert COMMENT_BODY_SCHEMA and STATUS_BODY_SCHEMA
    examples = ops["components"]["examples"]
    assert examples["issue-comment"]["value"] == EXAMPLE_COMMENT
    assert examples["status"]["value"] == EXAMPLE_STATUS
    assert examples["status"]["value"]["creator"] == EXAMPLE_USER


def test_answers_validate_against_the_ops_json_response_schemas(ops, gh, http):
    registry = referencing.Registry().with_resource(
        "urn:ops",
        referencing.Resource.from_contents(openapi_to_jsonschema(ops), default_specification=DRAFT202012),
    )

    def check(instance, name: str) -> None:
        jsonschema.Draft202012Validator(
            {"$ref": f"urn:ops#/components/schemas/{name}"}, registry=registry
        ).validate(instance)

    made = http.post(f"{gh.url}/repos/{REPO}/issues/7/comments", json={"body": "x"}).json()
    check(made, "issue-comment")
    for item in http.get(f"{gh.url}/repos/{REPO}/issues/7/comments").json():
        check(item, "issue-comment")
    check(http.patch(made["url"], json={"body": "y"}).json(), "issue-comment")
    check(http.post(f"{gh.url}/repos/{REPO}/statuses/{SHA}", json={"state": "pending"}).json(), "status")
    for item in http.get(f"{gh.url}/repos/{REPO}/commits/{SHA}/statuses").json():
        check(item, "status")
    check(http.get(f"{gh.url}/repos/{REPO}/issues/8/comments").json(), "basic-error")
    check(http.get(f"{gh.url}/user").json(), "simple-user")
    gh.add_token("t-app", login="sentri-app[bot]")
    by_bot = requests.post(
        f"{gh.url}/repos/{REPO}/issues/7/comments",
        json={"body": "x"},
        headers={"Authorization": "Bearer t-app"},
        timeout=5,
    ).json()
    check(by_bot, "issue-comment")
    check(
        requests.get(f"{gh.url}/user", headers={"Authorization": "Bearer t-app"}, timeout=5).json(),
        "basic-error",
    )
    for bad in ({"state": "xxx"}, {"state": "error", "description": "d" * 141}):
        r = http.post(f"{gh.url}/repos/{REPO}/statuses/{SHA}", json=bad)
        assert r.status_code == 422
        check(r.json(), "validation-error")
