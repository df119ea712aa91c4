"""Environments, test-data sets and secrets: precedence, encryption at rest, masking everywhere."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sentri import projects, testcases, tokens, vault

SECRET = "s3cret-Pa55word-xyz"


def _approved(app, base_url, tests):
    with app.app_context():
        project = projects.create("Env", base_url)
        for name, steps in tests.items():
            testcases.review(testcases.create(project, {"name": name, "steps": steps}), "approve")
        _, token = tokens.create(project)
        return project.public_id, token


def test_environment_and_data_set_api_never_returns_secrets(app, client, project, admin_headers):
    base = f"/api/v1/projects/{project['id']}"
    created = client.post(
        f"{base}/environments",
        headers=admin_headers,
        json={
            "name": "staging",
            "baseUrl": "https://staging.example.com",
            "variables": {"USER": "ada"},
            "secrets": {"PASSWORD": SECRET},
        },
    )
    assert created.status_code == 201
    body = created.get_json()
    assert (
        body["id"] == "ENV-1"
        and body["secretNames"] == ["PASSWORD"]
        and SECRET not in created.get_data(as_text=True)
    )
    for response in (
        client.get(f"{base}/environments", headers=admin_headers),
        client.get(f"{base}/environments/ENV-1", headers=admin_headers),
    ):
        assert SECRET not in response.get_data(as_text=True)
    patched = client.patch(
        f"{base}/environments/ENV-1",
        headers=admin_headers,
        json={"secrets": {"PASSWORD": None, "TOKEN": "t0k"}},
    )
    assert patched.get_json()["secretNames"] == ["TOKEN"]
    for bad, field in (
        ({"name": "x", "secrets": {"bad-name": "v"}}, "bad-name"),
        ({"name": "x", "variables": {"A": 1}}, "variables.A"),
        ({"name": "x", "baseUrl": "ftp://x"}, "baseUrl"),
        ({"nope": 1}, "nope"),
    ):
        response = client.post(f"{base}/environments", json=bad, headers=admin_headers)
        assert response.status_code == 400 and field in response.get_json()["error"]
    data_set = client.post(
        f"{base}/test-data-sets", json={"name": "eu", "variables": {"CURRENCY": "EUR"}}, headers=admin_headers
    )
    assert data_set.status_code == 201 and data_set.get_json()["id"] == "DAT-1"
    assert client.get(f"{base}/environments/ENV-9", headers=admin_headers).status_code == 404
    assert client.delete(f"{base}/test-data-sets/DAT-1", headers=admin_headers).get_json() == {"ok": True}
    with app.app_context():
        from sentri.extensions import db

        db.session.remove()
        db.engine.dispose()
    for path in Path(app.instance_path).glob("sentri.db*"):
        assert SECRET.encode() not in path.read_bytes() and b"t0k" not in path.read_bytes()


@pytest.mark.browser
def test_variables_follow_their_precedence_and_a_secret_is_masked_everywhere(
    app, client, site, admin_headers, caplog
):
    caplog.set_level(logging.DEBUG)
    steps_seen = [{"goto": "/ok?a={{A}}&b={{B}}&c={{C}}&d={{D}}"}, {"expect_title": "OK"}]
    fails_on_secret = [
        {"goto": "/ok"},
        {"expect_text": {"css": "h1"}, "text": "{{PASSWORD}}", "timeout": 300},
    ]
    undefined = [{"goto": "/ok"}, {"expect_text": {"css": "h1"}, "text": "{{NOPE}}"}]
    fill_fails = [{"goto": "/ok"}, {"fill": {"label": "Password"}, "value": "{{PASSWORD}}", "timeout": 300}]
    project_id, token = _approved(
        app, site, {"seen": steps_seen, "secret": fails_on_secret, "undefined": undefined, "fill": fill_fails}
    )
    base = f"/api/v1/projects/{project_id}"
    client.patch(
        base,
        json={"variables": {"A": "project", "B": "project", "C": "project", "D": "project"}},
        headers=admin_headers,
    )
    client.post(
        f"{base}/test-data-sets",
        json={"name": "set", "variables": {"B": "dataset", "C": "dataset", "D": "dataset"}},
        headers=admin_headers,
    )
    client.post(
        f"{base}/environments",
        json={
            "name": "env",
            "variables": {"C": "environment", "D": "environment"},
            "secrets": {"PASSWORD": SECRET},
        },
        headers=admin_headers,
    )
    response = client.post(
        f"{base}/trigger",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "wait": True,
            "environmentId": "ENV-1",
            "testDataSetId": "DAT-1",
            "variables": {"D": "trigger"},
        },
    )
    assert response.status_code == 422
    run_id = response.get_json()["runId"]
    detail = client.get(f"/api/v1/runs/{run_id}", headers=admin_headers)
    results = {r["testName"]: r for r in detail.get_json()["results"]}
    assert results["seen"]["status"] == "passed"
    assert results["seen"]["vitals"][0]["url"].endswith("/ok?a=project&b=dataset&c=environment&d=trigger")
    assert results["secret"]["status"] == "failed" and "••••" in results["secret"]["error"]
    assert results["undefined"]["error"] == "step 2: the variable {{NOPE}} is not defined for this run"
    assert results["fill"]["status"] == "failed" and results["fill"]["failingStep"] == 2
    junit = client.get(f"/api/v1/runs/{run_id}/junit.xml", headers=admin_headers)
    everything = [
        response.get_data(as_text=True),
        detail.get_data(as_text=True),
        junit.get_data(as_text=True),
        client.get(f"{base}/trigger/runs/{run_id}", headers={"Authorization": f"Bearer {token}"}).get_data(
            as_text=True
        ),
        caplog.text,
    ]
    assert all(SECRET not in text for text in everything)
    assert all(SECRET not in path.name for path in Path(app.instance_path).rglob("*"))


def test_unknown_environment_or_data_set_is_a_400(app, client, site):
    project_id, token = _approved(app, site, {"t": [{"goto": "/ok"}]})
    for body, field in (
        ({"environmentId": "ENV-4"}, "environmentId"),
        ({"testDataSetId": "DAT-4"}, "testDataSetId"),
        ({"variables": {"1X": "v"}}, "variables"),
        ({"environmentId": 4}, "environmentId"),
    ):
        response = client.post(
            f"/api/v1/projects/{project_id}/trigger", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 400 and field in response.get_json()["error"]


def test_deleting_environments_data_sets_and_secrets_takes_an_admin(
    client, project, admin_headers, member_headers
):
    base = f"/api/v1/projects/{project['id']}"
    assert (
        client.post(
            f"{base}/environments",
            headers=member_headers,
            json={"name": "staging", "secrets": {"PASSWORD": SECRET, "TOKEN": "t0k"}},
        ).status_code
        == 201
    )
    assert (
        client.post(
            f"{base}/test-data-sets",
            headers=member_headers,
            json={"name": "eu", "variables": {"CURRENCY": "EUR"}},
        ).status_code
        == 201
    )
    # A member edits: renames, sets or replaces a secret ...
    edited = client.patch(
        f"{base}/environments/ENV-1",
        headers=member_headers,
        json={"name": "stage", "secrets": {"TOKEN": "t1k", "NEW": "n"}},
    )
    assert edited.status_code == 200 and edited.get_json()["secretNames"] == ["NEW", "PASSWORD", "TOKEN"]
    assert (
        client.patch(
            f"{base}/test-data-sets/DAT-1", headers=member_headers, json={"variables": {"CURRENCY": "GBP"}}
        ).status_code
        == 200
    )
    # ... but removing a secret, an environment or a data set is refused, and nothing of the request is applied.
    removal = client.patch(
        f"{base}/environments/ENV-1",
        headers=member_headers,
        json={"name": "renamed", "secrets": {"PASSWORD": None, "OTHER": "o"}},
    )
    assert removal.status_code == 403 and "admin" in removal.get_json()["error"]
    for path in ("environments/ENV-1", "test-data-sets/DAT-1"):
        assert client.delete(f"{base}/{path}", headers=member_headers).status_code == 403
    environment = client.get(f"{base}/environments/ENV-1", headers=member_headers).get_json()
    assert environment["name"] == "stage" and environment["secretNames"] == ["NEW", "PASSWORD", "TOKEN"]
    assert client.get(f"{base}/test-data-sets/DAT-1", headers=member_headers).status_code == 200
    # An admin may do all three.
    removed = client.patch(
        f"{base}/environments/ENV-1", headers=admin_headers, json={"secrets": {"PASSWORD": None}}
    )
    assert removed.status_code == 200 and removed.get_json()["secretNames"] == ["NEW", "TOKEN"]
    for path in ("environments/ENV-1", "test-data-sets/DAT-1"):
        assert client.delete(f"{base}/{path}", headers=admin_headers).get_json() == {"ok": True}
        assert client.get(f"{base}/{path}", headers=admin_headers).status_code == 404


def test_every_result_of_an_environment_run_names_the_environments_site_skipped_ones_too(
    app, client, site, admin_headers
):
    """One rule for a run's site (trigger baseUrl, else environment, else project): skipped rows said the
    project's URL in an environment run, while the tests ran against the environment's."""
    project_id, token = _approved(app, site, {"picked": [{"goto": "/ok"}], "left out": [{"goto": "/ok"}]})
    staging = "https://staging.example.com"
    created = client.post(
        f"/api/v1/projects/{project_id}/environments",
        headers=admin_headers,
        json={"name": "staging", "baseUrl": staging},
    )
    assert created.status_code == 201, created.get_json()
    started = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        headers={"Authorization": f"Bearer {token}"},
        json={"environmentId": created.get_json()["id"], "caseIds": ["TST-1"]},
    )
    assert started.status_code == 202, started.get_json()
    run = client.get(f"/api/v1/runs/{started.get_json()['runId']}", headers=admin_headers).get_json()
    statuses = {result["testName"]: result["status"] for result in run["results"]}
    assert statuses == {"picked": "queued", "left out": "skipped"}
    assert {result["baseUrl"] for result in run["results"]} == {staging}


def test_a_text_cut_in_the_middle_of_a_secret_ends_masked_not_in_its_first_characters():
    secret = "s3cr3t-Tok3n-XYZ"
    assert vault.mask(f"error: {secret} and {secret[:9]}", [secret]) == "error: •••• and ••••"
    assert vault.mask(f"https://x.test/?t={secret[:6]}...", [secret]) == "https://x.test/?t=••••..."
    assert vault.mask(f"cut at {secret[:6]}…", ["other", secret]) == "cut at ••••…"
    # Two characters narrow nothing down; a text that does not end in a secret's start is left alone.
    assert vault.mask(f"ends in {secret[:2]}", [secret]) == f"ends in {secret[:2]}"
    assert vault.mask(f"{secret[:6]} in the middle", [secret]) == f"{secret[:6]} in the middle"
    assert vault.mask("nothing", []) == "nothing"
