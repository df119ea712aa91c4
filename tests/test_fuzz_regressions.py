"""5xx answers the API fuzzer (tests/test_api_fuzz.py) found, each pinned down: odd input is a 4xx
with the one error shape, on SQLite and on PostgreSQL (where integer columns are 32-bit and text
cannot hold NUL characters)."""

from __future__ import annotations

import pytest

from tests.conftest import both_databases


def _error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    return body["error"]


@both_databases
@pytest.mark.parametrize("path", ["/api/v1/projects", "/api/v1/projects/{id}/tests", "/api/v1/projects/{id}/runs"])
def test_a_page_far_past_the_end_is_a_400_not_a_database_overflow(client, admin_headers, project, path):
    url = path.format(id=project["id"])
    assert "page" in _error(client.get(f"{url}?page=99999999999999999999", headers=admin_headers), 400)
    assert "page" in _error(client.get(f"{url}?page=1000001", headers=admin_headers), 400)
    assert client.get(f"{url}?page=1000000", headers=admin_headers).get_json() == []
