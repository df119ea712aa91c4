"""The login page, logout, CSRF on forms, security headers and escaping."""

from __future__ import annotations

import re

from sentri import projects, users


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def _login(client, email="ada@example.com", password="correct horse battery"):
    token = _csrf(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def test_login_logout_with_csrf(app, client):
    with app.app_context():
        users.create_user("ada@example.com", "correct horse battery")
    assert client.get("/").headers["Location"].endswith("/login")
    page = client.get("/login")
    assert page.status_code == 200 and 'for="email"' in page.get_data(as_text=True)
    assert (
        client.post(
            "/login", data={"email": "ada@example.com", "password": "correct horse battery"}
        ).status_code
        == 400
    )
    wrong = _login(client, password="nope nope nope")
    assert wrong.status_code == 401 and "Wrong email or password." in wrong.get_data(as_text=True)
    ok = _login(client)
    assert ok.status_code == 302 and ok.headers["Location"] == "/projects"
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    projects_page = client.get("/projects")
    assert projects_page.status_code == 200
    # Logging out is a POST with the CSRF token.
    assert client.post("/logout").status_code == 400
    client.post("/logout", data={"csrf_token": _csrf(projects_page.get_data(as_text=True))})
    assert client.get("/projects").status_code == 302


def test_cookie_authenticated_api_writes_need_the_csrf_header(app, client):
    with app.app_context():
        users.create_user("ada@example.com", "correct horse battery")
    _login(client)
    assert client.get("/api/v1/projects").status_code == 200
    body = {"name": "Shop", "baseUrl": "http://127.0.0.1:9"}
    refused = client.post("/api/v1/projects", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.get_json()["error"]
    token = _csrf(client.get("/login").get_data(as_text=True))
    assert client.post("/api/v1/projects", json=body, headers={"X-CSRFToken": token}).status_code == 201


def test_next_parameter_is_same_site_only(app, client):
    with app.app_context():
        users.create_user("ada@example.com", "correct horse battery")
    token = _csrf(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=//evil.example/x",
        data={"email": "ada@example.com", "password": "correct horse battery", "csrf_token": token},
    )
    assert response.headers["Location"] == "/projects"


def test_security_headers_and_escaping(app, client):
    with app.app_context():
        users.create_user("ada@example.com", "correct horse battery")
        projects.create("<script>alert(1)</script>", "http://127.0.0.1:9")
    _login(client)
    page = client.get("/projects")
    html = page.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
