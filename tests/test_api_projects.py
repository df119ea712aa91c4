"""Projects and tests over the JSON API: every status the spec lists for them."""

from __future__ import annotations

import pytest

STEPS = [{"action": "goto", "url": "/"}, {"action": "expect_title", "title": "Shop"}]


def test_create_list_read_edit_a_project(client, admin_headers, member_headers):
    created = client.post(
        "/api/v1/projects",
        json={"name": "Shop", "baseUrl": "https://shop.example.com/"},
        headers=member_headers,
    )
    assert created.status_code == 201
    project = created.get_json()
    assert project["id"] == "PRJ-1" and project["baseUrl"] == "https://shop.example.com"
    listing = client.get("/api/v1/projects", headers=member_headers)
    assert listing.status_code == 200 and [p["id"] for p in listing.get_json()] == ["PRJ-1"]
    assert listing.headers["X-Total-Count"] == "1"
    assert client.get("/api/v1/projects/PRJ-1", headers=member_headers).get_json()["name"] == "Shop"
    edited = client.patch("/api/v1/projects/PRJ-1", json={"name": "Shop 2"}, headers=member_headers)
    assert edited.status_code == 200 and edited.get_json()["name"] == "Shop 2"
    assert edited.get_json()["baseUrl"] == "https://shop.example.com"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"baseUrl": "https://x.example"}, "name"),
        ({"name": "x"}, "baseUrl"),
        ({"name": "x", "baseUrl": "ftp://x.example"}, "baseUrl"),
        ({"name": "x", "baseUrl": "not a url"}, "baseUrl"),
        ({"name": "", "baseUrl": "https://x.example"}, "name"),
        ({"name": 5, "baseUrl": "https://x.example"}, "name"),
        ({"name": "x", "baseUrl": "https://x.example", "colour": "red"}, "colour"),
    ],
)
def test_bad_project_bodies_get_400_naming_the_field(client, admin_headers, body, field):
    response = client.post("/api/v1/projects", json=body, headers=admin_headers)
    assert response.status_code == 400
    assert field in response.get_json()["error"]


def test_non_object_bodies_get_400(client, admin_headers):
    for data in ("[1, 2]", "nonsense", ""):
        response = client.post(
            "/api/v1/projects", data=data, content_type="application/json", headers=admin_headers
        )
        assert response.status_code == 400
        assert response.get_json() == {"error": "The request body must be a JSON object."}


def test_unknown_project_is_404_and_unknown_routes_are_json(client, admin_headers):
    for path in ("/api/v1/projects/PRJ-99", "/api/v1/projects/nonsense", "/api/v1/projects/TST-1"):
        response = client.get(path, headers=admin_headers)
        assert response.status_code == 404 and "not found" in response.get_json()["error"]
    assert client.get("/api/v1/nowhere").get_json()["error"]
    wrong_method = client.put("/api/v1/projects", headers=admin_headers)
    assert wrong_method.status_code == 405 and "error" in wrong_method.get_json()


def test_only_an_admin_deletes_a_project(client, project, admin_headers, member_headers):
    refused = client.delete(f"/api/v1/projects/{project['id']}", headers=member_headers)
    assert refused.status_code == 403
    deleted = client.delete(f"/api/v1/projects/{project['id']}", headers=admin_headers)
    assert deleted.status_code == 200 and deleted.get_json() == {"ok": True}
    assert client.get(f"/api/v1/projects/{project['id']}", headers=admin_headers).status_code == 404


def _create_test(client, project, headers, **overrides):
    body = {"name": "Home loads", "tags": ["smoke"], "steps": STEPS, **overrides}
    return client.post(f"/api/v1/projects/{project['id']}/tests", json=body, headers=headers)


def test_a_new_test_lands_as_draft_in_canonical_form(client, project, member_headers):
    response = _create_test(client, project, member_headers, steps=[{"goto": "/"}, {"expect_title": "Shop"}])
    assert response.status_code == 201
    test = response.get_json()
    assert test["id"] == "TST-1" and test["reviewStatus"] == "draft"
    assert test["steps"] == STEPS and test["tags"] == ["smoke"]


def test_an_invalid_test_gets_400_naming_step_and_problem_and_stores_nothing(client, project, member_headers):
    steps = [{"action": "goto", "url": "/"}, {"action": "fill", "target": {"label": "Email"}}]
    response = _create_test(client, project, member_headers, steps=steps)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "step 2" in error and "value" in error and "Home loads" in error
    listing = client.get(f"/api/v1/projects/{project['id']}/tests", headers=member_headers)
    assert listing.get_json() == []


def test_review_edit_and_filter_tests(client, project, member_headers):
    base = f"/api/v1/projects/{project['id']}/tests"
    _create_test(client, project, member_headers)
    _create_test(client, project, member_headers, name="Checkout", tags=["cart"])
    approved = client.post(f"{base}/TST-1/approve", headers=member_headers)
    assert approved.status_code == 200 and approved.get_json()["reviewStatus"] == "approved"
    rejected = client.post(f"{base}/TST-2/reject", headers=member_headers)
    assert rejected.get_json()["reviewStatus"] == "rejected"

    by_status = client.get(f"{base}?status=approved", headers=member_headers).get_json()
    assert [t["id"] for t in by_status] == ["TST-1"]
    by_tag = client.get(f"{base}?tag=cart", headers=member_headers).get_json()
    assert [t["id"] for t in by_tag] == ["TST-2"]
    assert client.get(f"{base}?status=bogus", headers=member_headers).status_code == 400

    renamed = client.patch(f"{base}/TST-1", json={"name": "Home page loads"}, headers=member_headers)
    assert renamed.get_json()["reviewStatus"] == "approved"  # a rename needs no new review
    new_steps = [*STEPS, {"action": "expect_visible", "target": {"css": "main"}}]
    edited = client.patch(f"{base}/TST-1", json={"steps": new_steps}, headers=member_headers)
    assert edited.status_code == 200
    assert edited.get_json()["reviewStatus"] == "draft" and len(edited.get_json()["steps"]) == 3

    bad = client.patch(f"{base}/TST-1", json={"steps": [{"action": "teleport"}]}, headers=member_headers)
    assert bad.status_code == 400 and "step 1" in bad.get_json()["error"]
    unknown_field = client.patch(f"{base}/TST-1", json={"reviewStatus": "approved"}, headers=member_headers)
    assert unknown_field.status_code == 400 and "reviewStatus" in unknown_field.get_json()["error"]
    assert client.get(f"{base}/TST-1", headers=member_headers).get_json()["reviewStatus"] == "draft"


def test_a_test_is_only_reachable_through_its_own_project(client, project, member_headers, admin_headers):
    _create_test(client, project, member_headers)
    other = client.post(
        "/api/v1/projects", json={"name": "Other", "baseUrl": "http://127.0.0.1:9"}, headers=admin_headers
    ).get_json()
    for method in ("GET", "PATCH", "DELETE"):
        response = client.open(
            f"/api/v1/projects/{other['id']}/tests/TST-1", method=method, json={}, headers=member_headers
        )
        assert response.status_code == 404
    assert (
        client.post(f"/api/v1/projects/{other['id']}/tests/TST-1/approve", headers=member_headers).status_code
        == 404
    )
    assert (
        client.post(
            "/api/v1/projects/PRJ-77/tests", json={"name": "x", "steps": STEPS}, headers=member_headers
        ).status_code
        == 404
    )


def test_delete_a_test_takes_an_admin(client, project, member_headers, admin_headers):
    _create_test(client, project, member_headers)
    path = f"/api/v1/projects/{project['id']}/tests/TST-1"
    refused = client.delete(path, headers=member_headers)
    assert refused.status_code == 403 and "admin" in refused.get_json()["error"]
    assert client.get(path, headers=member_headers).status_code == 200
    assert client.delete(path, headers=admin_headers).get_json() == {"ok": True}
    assert client.get(path, headers=member_headers).status_code == 404


def test_pagination_headers_and_limits(client, project, member_headers):
    for index in range(5):
        _create_test(client, project, member_headers, name=f"t{index}")
    base = f"/api/v1/projects/{project['id']}/tests"
    page = client.get(f"{base}?page=2&perPage=2", headers=member_headers)
    assert [t["name"] for t in page.get_json()] == ["t2", "t3"]
    assert page.headers["X-Total-Count"] == "5"
    assert client.get(f"{base}?perPage=0", headers=member_headers).status_code == 400
    assert client.get(f"{base}?page=x", headers=member_headers).status_code == 400


def test_a_test_read_from_the_api_imports_again_unchanged(client, project, member_headers, runner, tmp_path):
    import json

    created = _create_test(client, project, member_headers).get_json()
    file = tmp_path / "export.json"
    file.write_text(json.dumps(created))
    result = runner.invoke(args=["tests", "import", "--project", project["id"], str(file)])
    assert result.exit_code == 0, result.output
    again = client.get(f"/api/v1/projects/{project['id']}/tests/TST-2", headers=member_headers).get_json()
    assert again["steps"] == created["steps"] and again["name"] == created["name"]
