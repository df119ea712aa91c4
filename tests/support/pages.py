"""Signed-in page clients for tests of the HTML pages: `Browser` (a Flask client that logs in and sends the
CSRF token of the last page it read) and the fixtures `admin`, `member` and `shop` that conftest offers every
test module (a module may define its own under the same name)."""

from __future__ import annotations

import re

import pytest

from sentri import projects, users

PASSWORD = "correct horse battery"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


class Browser:
    """A logged-in Flask client that sends the CSRF token of the last page it read."""

    def __init__(self, client, email):
        self.client = client
        self.token = csrf_of(client.get("/login").get_data(as_text=True))
        response = client.post(
            "/login", data={"email": email, "password": PASSWORD, "csrf_token": self.token}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        self.token = csrf_of(client.get("/projects").get_data(as_text=True))

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def html(self, url, status=200):
        response = self.client.get(url)
        assert response.status_code == status, (url, response.status_code)
        return response.get_data(as_text=True)

    def post(self, url, data=None, **kwargs):
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kwargs)


def signed_in(app, email: str, role: str) -> Browser:
    with app.app_context():
        users.create_user(email, PASSWORD, role=role)
    return Browser(app.test_client(), email)


@pytest.fixture
def admin(app):
    return signed_in(app, "admin@example.com", "admin")


@pytest.fixture
def member(app):
    return signed_in(app, "member@example.com", "member")


@pytest.fixture
def shop(app):
    with app.app_context():
        return projects.create("Shop", "http://127.0.0.1:9/shop").public_id
