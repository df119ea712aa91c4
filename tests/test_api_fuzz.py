"""schemathesis against a live server, for every operation of GET /api/v1/openapi.json.

The server runs in this process (waitress on a free loopback port) with real Chromium, so a trigger
really starts a run of the project's approved tests against the local fixture site. Each operation
gets SENTRI_FUZZ_EXAMPLES generated requests with valid data (path ids of real resources) and as many
with invalid data (wrong types, out-of-range values, unknown ids), sent as an admin, a member, the
project's trigger token (`sentri_...` or `aegis_sentri_...`), another project's token, or nobody.
Every response must be no 5xx, a documented status with the documented content type, and a body that
matches the documented schema. Failures are collected (not shrunk) and the figures printed.

Nothing leaves the machine: names resolve only to loopback, connections go only to loopback, and the
browser sends everything else to a dead proxy. SENTRI_FUZZ_SEED replays (or varies) the generated data.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import threading
import time

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sentri import environments, projects, suites, testcases, tokens, users
from sentri.auth import issue_jwt
from sentri.worker import browsers
from tests.conftest import DATABASES

pytestmark = [pytest.mark.browser, pytest.mark.fuzz]

EXAMPLES = int(os.environ.get("SENTRI_FUZZ_EXAMPLES", "20"))
# The operations are dealt round-robin (in _order) to this many tests, each with a server and resources of its
# own, so that pytest-xdist fuzzes them side by side; together they fuzz every operation once.
SHARDS = 4
SEED = int(os.environ.get("SENTRI_FUZZ_SEED", "20251130"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

OK_STEPS = [
    {"action": "goto", "url": "/ok"},
    {"action": "expect_text", "target": {"css": "h1"}, "text": "OK"},
]
FAIL_STEPS = [{"action": "goto", "url": "/fail"}, {"action": "expect_title", "title": "OK", "timeout": 500}]

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect


@pytest.fixture
def loopback_only(monkeypatch):
    """Resolve no name but localhost (numeric hosts are parsed locally) and connect only to loopback;
    Chromium sends every non-loopback request to a closed port as its proxy."""

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        host = host.decode() if isinstance(host, bytes) else host
        if host == "localhost":
            host = "127.0.0.1"
        return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    def connect(sock, address):
        if isinstance(address, tuple):
            ip = ipaddress.ip_address(str(address[0]).split("%")[0])
            if not ip.is_loopback:
                raise OSError(errno.ENETUNREACH, f"fuzz guard: no connection to {address[0]}")
        return _real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    # Chromium bypasses a proxy for loopback itself; everything else meets a closed port.
    monkeypatch.setattr(
        browsers, "CHROMIUM_ARGS", (*browsers.CHROMIUM_ARGS, "--proxy-server=http://127.0.0.1:9")
    )


@pytest.fixture
def fuzz_server(app_factory, site, loopback_only):
    """A live server with two projects (one with approved tests against `site`, a finished run with a
    failure, a suite, an environment, a test-data set, spare tokens), users and their credentials."""
    from waitress.server import create_server

    # Requests come one at a time, so `wait: true` never meets a full waiter list (503), and a run of
    # the two fixture tests ends well within the wait limit (no 504): every 5xx is a failure.
    app = app_factory(SENTRI_WAIT_MAX_SECONDS=60, SENTRI_CALLBACK_ALLOWLIST="127.0.0.1")
    with app.test_request_context():
        admin = users.create_user("admin@example.com", "correct horse battery", role="admin")
        member = users.create_user("member@example.com", "correct horse battery", role="member")
        victim = users.create_user("victim@example.com", "correct horse battery", role="member")
        jwts = {
            name: issue_jwt(user)[0]
            for name, user in (("admin", admin), ("member", member), ("victim", victim))
        }
        project = projects.create("Shop", site)
        passing = testcases.create(project, {"name": "passes", "tags": ["smoke"], "steps": OK_STEPS})
        failing = testcases.create(project, {"name": "fails", "steps": FAIL_STEPS})
        for test in (passing, failing):
            testcases.review(test, "approve")
        _, token = tokens.create(project, label="fuzz")
        spare, _ = tokens.create(project, label="spare")
        suite = suites.create(project, "smoke", [passing.public_id])
        environment = environments.create_environment(
            project,
            environments.NewEnvironment(
                name="staging", base_url=site, variables={"A": "1"}, secrets={"S": "x"}
            ),
        )
        data_set = environments.create_data_set(
            project, environments.NewDataSet(name="data", variables={"B": "2"})
        )
        other = projects.create("Other", site)
        _, other_token = tokens.create(other)
        ids = {
            "projectId": project.public_id,
            "testId": passing.public_id,
            "suiteId": suite.public_id,
            "environmentId": environment.public_id,
            "dataSetId": data_set.public_id,
            "tokenId": spare.public_id,
            "userId": victim.public_id,
        }

    server = create_server(app, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    http = requests.Session()
    http.trust_env = False
    # One finished run with a failed result, so run ids, results, screenshots and traces are real.
    started = http.post(
        f"{base}/api/v1/projects/{ids['projectId']}/trigger",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert started.status_code == 202, started.text
    run = _finished(http, base, started.json()["runId"], jwts["admin"])
    ids["runId"] = run["id"]
    ids["position"] = next(r["position"] for r in run["results"] if r["screenshotUrl"])
    # Every sender the fuzzing weighs in gets in where it should: a member reads, the token in its aegis_
    # spelling reads its run (a shard may hold too few operations for each to answer 2xx by chance).
    for bearer, path in (
        (jwts["member"], f"/api/v1/runs/{run['id']}"),
        (f"aegis_{token}", started.json()["statusUrl"].removeprefix(base)),
    ):
        answer = http.get(f"{base}{path}", headers={"Authorization": f"Bearer {bearer}"}, timeout=10)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    yield {
        "base": base,
        "app": app,
        "http": http,
        "ids": ids,
        "user": {"admin": jwts["admin"], "member": jwts["member"], "victim": jwts["victim"]},
        "token": token,
        "other_token": other_token,
    }
    server.close()
    thread.join(timeout=5)
    http.close()


def _finished(http, base, run_id, jwt, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = http.get(
            f"{base}/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {jwt}"}, timeout=10
        ).json()
        if body["status"] != "running":
            return body
        time.sleep(0.1)
    raise AssertionError(f"{run_id} still running after {timeout} s")


def _order(operation) -> tuple[int, str]:
    """Reads first, then the CI surface, then writes, deletions (the project last), and passwords:
    so destructive calls on the real resources come after everything that needs them."""
    method, path = operation.method.upper(), operation.path
    if "password" in path:
        rank = 5
    elif method == "GET":
        rank = 0
    elif "/trigger" in path and "trigger-tokens" not in path:
        rank = 1
    elif method != "DELETE":
        rank = 2
    elif path == "/api/v1/projects/{projectId}":
        rank = 4
    else:
        rank = 3
    return rank, path


def _identities(operation, server) -> list[tuple[str, dict]]:
    """Who sends the requests, weighted: mostly valid credentials of the operation's own scheme."""
    bearer = {
        "admin": server["user"]["admin"],
        "member": server["user"]["member"],
        "victim": server["user"]["victim"],
        "trigger token": server["token"],
        "aegis_ token": f"aegis_{server['token']}",
        "other project's token": server["other_token"],
        "garbage": "not-a-token",
    }

    def weighted(*weights: tuple[str, int]) -> list[tuple[str, dict]]:
        return [
            (name, {"Authorization": f"Bearer {bearer[name]}"} if name in bearer else {})
            for name, weight in weights
            for _ in range(weight)
        ]

    schemes = {
        name
        for requirement in operation.definition.raw.get("security", [{"userAuth": []}])
        for name in requirement
    }
    if not schemes:
        return weighted(("anonymous", 1))
    if operation.path == "/api/v1/auth/password":
        # Changing one's own password ends that user's older tokens: only the victim's are at stake.
        return weighted(("victim", 3), ("anonymous", 1))
    if schemes == {"triggerToken"}:
        return weighted(
            ("trigger token", 6),
            ("aegis_ token", 1),
            ("other project's token", 1),
            ("admin", 1),
            ("garbage", 1),
        )
    if "triggerToken" in schemes:  # JUnit and artifacts: the project's token or a user
        return weighted(
            ("trigger token", 2), ("aegis_ token", 1), ("admin", 2), ("member", 1), ("anonymous", 1)
        )
    return weighted(("admin", 6), ("member", 2), ("trigger token", 1), ("anonymous", 1))


def _dealt(operations: list, shard: int) -> list:
    """This shard's share of the operations, in their _order."""
    return sorted(operations, key=_order)[shard::SHARDS]


# Once, on PostgreSQL where the run has one (CI): most 5xx it ever found were PostgreSQL's stricter types.
@pytest.mark.parametrize("database", [DATABASES[-1]], indirect=True)
@pytest.mark.parametrize("shard", range(SHARDS))
def test_fuzz_every_operation(fuzz_server, shard, capsys):
    server = fuzz_server
    # The live server's own description (from_url would leave out the operation that serves it).
    document = server["http"].get(f"{server['base']}/api/v1/openapi.json", timeout=10).json()
    assert document["servers"] == [{"url": server["base"]}]
    schema = schemathesis.openapi.from_dict(document)
    everything = [result.ok() for result in schema.get_all_operations()]
    assert len(everything) == sum(m != "parameters" for i in document["paths"].values() for m in i)
    operations = _dealt(everything, shard)
    figures = {"operations": 0, "examples": 0, "statuses": {}, "answered": {}}
    failures: dict[str, str] = {}
    started = time.monotonic()
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        figures["operations"] += 1
        identities = _identities(operation, server)
        fixed = {
            name: value
            for name, value in server["ids"].items()
            if name in {p.name for p in operation.path_parameters}
        }
        plans = [(GenerationMode.POSITIVE, fixed or None)]
        if any(True for _ in operation.iter_parameters()) or operation.body:
            plans.append((GenerationMode.NEGATIVE, None))  # else there is nothing to make invalid
        for mode, path_parameters in plans:
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
            _run(strategy, identities, server, label, figures, failures)
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nschemathesis {schemathesis.__version__}, shard {shard + 1} of {SHARDS}: "
            f"{figures['operations']} of {len(everything)} operations fuzzed, "
            f"{figures['examples']} requests, {len(failures)} failures, {elapsed:.0f} s "
            f"(seed {SEED}, {EXAMPLES} examples per operation and mode)"
        )
        print("statuses seen: " + ", ".join(f"{k}: {v}" for k, v in sorted(figures["statuses"].items())))
        print(
            "2xx answers by sender: " + ", ".join(f"{k}: {v}" for k, v in sorted(figures["answered"].items()))
        )
    assert figures["operations"] == len(operations)
    # Each scheme among this shard's operations really got in (the fixture checked the member and the
    # aegis_ spelling): the fuzzing was not all turned away at the door.
    schemes = {
        name
        for operation in operations
        for requirement in operation.definition.raw.get("security", [{"userAuth": []}])
        for name in requirement
    }
    expected = {
        sender
        for scheme, sender in (("userAuth", "admin"), ("triggerToken", "trigger token"))
        if scheme in schemes
    }
    assert expected <= set(figures["answered"]), (expected, figures["answered"])
    assert not failures, "\n\n".join(f"{key}\n{text}" for key, text in failures.items())


def _run(strategy, identities, server, label, figures, failures) -> None:
    session = server["http"]

    @hypothesis.seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=strategy, who=st.sampled_from(identities))
    def fuzz(case, who):
        name, headers = who
        figures["examples"] += 1
        try:
            response = case.call(base_url=server["base"], session=session, headers=headers, timeout=30)
            figures["statuses"][response.status_code] = figures["statuses"].get(response.status_code, 0) + 1
            if response.status_code < 300:
                figures["answered"][name] = figures["answered"].get(name, 0) + 1
            case.validate_response(response, checks=CHECKS, headers=headers)
        except AssertionError as exc:  # a schemathesis Failure or FailureGroup
            _record(failures, label, name, exc)
        except BaseExceptionGroup as group:
            _record(failures, label, name, group)

    fuzz()


def _record(failures, label, identity, exc) -> None:
    titles = [getattr(e, "title", type(e).__name__) for e in getattr(exc, "exceptions", [exc])]
    key = f"{label} [{identity}]: {'; '.join(sorted(set(titles)))}"
    failures.setdefault(key, str(exc)[:3000])
