"""First start: an admin account with a generated password, and the demo project with its tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import select

from . import projects, testcases, users
from .database import write
from .extensions import db
from .models import Project
from .settings import settings

DEMO_ADMIN_EMAIL = "admin@sentri.internal"

# The demo project's tests, in the test format; they run against the demo site (sentri/routes/demo.py).
DEMO_TESTS = """
- name: Home page lists the coffees
  tags: [smoke]
  steps:
    - goto: /
    - expect_title: Sentri Demo Shop
    - expect_text: {css: h1}
      text: Demo coffee shop
    - expect_visible: {text: Espresso}
- name: Sign in reaches the dashboard
  tags: [auth]
  steps:
    - goto: /login
    - fill: {label: Email}
      value: ada@example.com
    - fill: {label: Password}
      value: demo-password
    - click: {role: button, name: Sign in}
    - expect_url: "*/demo/dashboard*"
    - expect_text: {css: h1}
      text: Welcome, ada@example.com
- name: Add a flat white to the cart
  tags: [cart]
  steps:
    - goto: /
    - click: {role: button, name: Add Flat white to cart}
    - expect_url: "*/demo/cart*"
    - expect_text: {testid: cart-summary}
      text: "1 item: Flat white"
"""


@dataclass
class FirstRun:
    email: str
    password: str
    demo_project_id: str | None


def demo_base_url(app: Flask) -> str:
    """Return where this server's demo site is reachable from its own browser workers."""
    host = settings(app).host
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings(app).port}/demo"


def first_run(app: Flask) -> FirstRun | None:
    """Create the admin and the demo project when no user exists yet; return the credentials once."""
    if users.count_users() > 0:
        return None
    password = secrets.token_urlsafe(12)
    admin = users.create_user(DEMO_ADMIN_EMAIL, password, role="admin")
    demo_id = None
    if settings(app).demo:
        project = projects.create("Demo shop", demo_base_url(app), is_demo=True)
        testcases.import_file(project, DEMO_TESTS, "demo.yaml", approve=True, actor=admin)
        demo_id = project.public_id
    return FirstRun(email=admin.email, password=password, demo_project_id=demo_id)


def refresh_demo_url(app: Flask) -> None:
    """Point the demo project at this server's demo site again (the port may have changed since)."""
    wanted = demo_base_url(app)
    for project in db.session.scalars(select(Project).where(Project.is_demo.is_(True))):
        parts = urlsplit(project.base_url)
        # Only a base URL Sentri set itself (its own demo site on loopback) is rewritten.
        if (
            parts.hostname in ("127.0.0.1", "localhost", "::1")
            and parts.path == "/demo"
            and project.base_url != wanted
        ):
            with write():
                project.base_url = wanted
