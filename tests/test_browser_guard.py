"""The browser goes only to web pages: non-http(s) URLs are refused when a test is saved, and a guard in
every browser context refuses them (and blocked networks, link-local by default) when a test runs,
also for rows stored before the rules and for requests a page makes on its own.

Blocked-network tests never aim at a real link-local address: they block a second loopback address
(127.0.0.2) where a server of their own records whether anything arrived."""

from __future__ import annotations

import socket

import pytest

from sentri import origins, projects, testcases, tokens
from sentri.database import write
from sentri.extensions import db
from sentri.models import TestCase
from tests.support import StaticSite

pytestmark = pytest.mark.browser

BAD_URLS = [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "  file:///etc/passwd",
    "\tfile:///etc/passwd",
    "fi\nle:///etc/passwd",
    "chrome://version",
    "view-source:http://127.0.0.1/",
    "data:text/html,<h1>hi</h1>",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "filesystem:http://127.0.0.1/temporary/x",
    "about:blank",
    "//evil.example/",
]
BLOCKED = "169.254.0.0/16,fe80::/10,127.0.0.2/32"


def _h(token):
    return {"Authorization": f"Bearer {token}"}


def _approved_raw(app, project_id: int, name: str, steps: list[dict]) -> None:
    """Store an approved test without validation: a row written before the URL rules existed."""
    with app.app_context(), write():
        db.session.add(
            TestCase(project_id=project_id, name=name, tags=[], steps=steps, review_status="approved")
        )


def _project(app, base_url: str) -> tuple[str, int, str]:
    with app.app_context():
        project = projects.create("Guarded", base_url)
        _, token = tokens.create(project)
        return project.public_id, project.id, token


def _run(client, project_id, token, admin_headers) -> dict:
    response = client.post(f"/api/v1/projects/{project_id}/trigger", json={"wait": True}, headers=_h(token))
    assert response.status_code in (200, 422), response.get_json()
    return client.get(f"/api/v1/runs/{response.get_json()['runId']}", headers=admin_headers).get_json()


# -- when a test is saved ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_member_cannot_save_a_test_that_opens_a_non_web_url(client, project, member_headers, url):
    body = {"name": "Peek", "steps": [{"goto": url}, {"expect_text": {"css": "body"}, "text": "nothing"}]}
    response = client.post(f"/api/v1/projects/{project['id']}/tests", json=body, headers=member_headers)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error.startswith('test "Peek": step 1 (goto): "url" must be an http(s) URL or a path')
    listed = client.get(f"/api/v1/projects/{project['id']}/tests", headers=member_headers).get_json()
    assert listed == []


def test_an_edit_and_an_import_refuse_them_too(client, project, member_headers, runner, tmp_path):
    created = client.post(
        f"/api/v1/projects/{project['id']}/tests",
        headers=member_headers,
        json={"name": "Ok", "steps": [{"goto": "/ok"}]},
    ).get_json()
    edit = client.patch(
        f"/api/v1/projects/{project['id']}/tests/{created['id']}",
        headers=member_headers,
        json={"steps": [{"goto": "/ok"}, {"goto": "view-source:http://127.0.0.1/"}]},
    )
    assert edit.status_code == 400 and 'step 2 (goto): "url"' in edit.get_json()["error"]
    path = tmp_path / "peek.yaml"
    path.write_text("name: Peek\nsteps:\n  - goto: /ok\n  - goto: ' FILE:///etc/passwd'\n")
    result = runner.invoke(args=["tests", "import", "--project", project["id"], str(path)])
    assert result.exit_code != 0
    assert 'peek.yaml: test "Peek": step 2 (goto): "url" must be an http(s) URL' in result.output


@pytest.mark.parametrize(
    "base", ["file:///etc", " javascript:x", "http://169.254.169.254/latest", "http://[fe80::1]/"]
)
def test_base_urls_are_web_urls_outside_blocked_networks(client, admin_headers, base):
    response = client.post("/api/v1/projects", json={"name": "X", "baseUrl": base}, headers=admin_headers)
    assert response.status_code == 400 and response.get_json()["error"].startswith("baseUrl: ")


def test_the_default_blocked_networks_are_link_local_and_cloud_metadata():
    networks = origins.parse_networks(None)
    for address in ("169.254.169.254", "fe80::1", "::ffff:169.254.169.254", "fd00:ec2::254"):
        assert origins.blocked_network(address, networks) is not None
    for address in ("10.0.0.5", "192.168.1.2", "127.0.0.1", "172.16.0.1", "fd12::1"):
        assert origins.blocked_network(address, networks) is None  # staging lives on private networks
    assert origins.parse_networks("none") == ()
    with pytest.raises(ValueError, match="not networks: nope"):
        origins.parse_networks("10.0.0.0/8,nope")


# -- when a test runs ----------------------------------------------------------------------------------


def test_rows_stored_before_the_rules_are_refused_when_they_run(app, client, site, admin_headers):
    project_id, key, token = _project(app, site)
    key_value = (
        "instance-key-that-signs-every-jwt-0123456789"  # what instance/secret_key holds without the env
    )
    with open(f"{app.instance_path}/secret_key", "w") as handle:
        handle.write(key_value + "\n")
    secret_key_file = f"file://{app.instance_path}/secret_key"
    for name, url in (
        ("passwd", "file:///etc/passwd"),
        ("key", secret_key_file),
        ("chrome", "chrome://version"),
        ("source", f"view-source:{site}/ok"),
        ("data", "data:text/html,<h1>planted</h1>"),
    ):
        _approved_raw(
            app,
            key,
            name,
            [
                {"action": "goto", "url": "/ok"},
                {"action": "goto", "url": url},
                {"action": "expect_text", "target": {"css": "body"}, "text": "zzz"},
            ],
        )
    detail = _run(client, project_id, token, admin_headers)
    assert detail["status"] == "completed" and detail["failed"] == 5
    for result in detail["results"]:
        assert result["status"] == "failed" and result["failingStep"] == 2
        assert "Sentri refused to open" in result["error"] and "http(s) URL" in result["error"]
        # Nothing of the refused page: no file text, no key, no screenshot, no trace.
        assert "root:" not in result["error"] and key_value not in result["error"]
        assert result["screenshotUrl"] is None and result["traceUrl"] is None
    run_page = client.get(f"/api/v1/runs/{detail['id']}/junit.xml", headers=admin_headers).get_data(
        as_text=True
    )
    assert "root:x:0:0" not in run_page and key_value not in run_page


def test_a_page_cannot_reach_a_blocked_network_on_its_own(app_factory):
    metadata = StaticSite({"/latest/meta-data/": "<h1>instance-secret</h1>"}, host="127.0.0.2").start()
    page = f"""<!doctype html><title>Shop</title><h1>Shop</h1>
<img src="{metadata.url}/latest/meta-data/img.png">
<script>fetch("{metadata.url}/latest/meta-data/").then(r => r.text()).then(t => document.title = t)</script>"""
    site = StaticSite({"/": page, "/plain": "<!doctype html><title>Plain</title><h1>Plain</h1>"}).start()
    try:
        app = app_factory(SENTRI_BROWSER_BLOCKED_NETWORKS=BLOCKED)
        client = app.test_client()
        project_id, _key, token = _project(app, site.url)
        with app.app_context():
            admin = _admin(app)
            for name, steps in (
                ("page", [{"goto": "/"}, {"expect_visible": {"css": "h1"}}]),
                ("direct", [{"goto": "/plain"}, {"goto": f"{metadata.url}/latest/meta-data/"}]),
            ):
                test = testcases.create(projects.get(project_id), {"name": name, "steps": steps})
                testcases.review(test, "approve")
        detail = _run(client, project_id, token, admin)
        by_name = {r["testName"]: r for r in detail["results"]}
        assert by_name["page"]["status"] == "failed"
        assert "Sentri refused to load http://127.0.0.2:" in by_name["page"]["error"]
        assert "blocked network 127.0.0.2/32" in by_name["page"]["error"]
        assert by_name["direct"]["status"] == "failed" and by_name["direct"]["failingStep"] == 2
        assert "blocked network 127.0.0.2/32" in by_name["direct"]["error"]
        assert metadata.hits == []  # nothing ever reached the blocked address
        assert [hit.path for hit in site.hits if hit.path == "/"]  # while the page itself was loaded
    finally:
        metadata.stop()
        site.stop()


def test_web_sockets_to_a_blocked_network_are_refused(app_factory):
    metadata = StaticSite({}, host="127.0.0.2").start()
    page = (
        f'<!doctype html><title>WS</title><h1 id="h">WS</h1><script>const ws = new WebSocket('
        f'"ws://127.0.0.2:{metadata.port}/socket"); ws.onclose = () => document.getElementById("h")'
        '.textContent = "closed";</script>'
    )
    site = StaticSite({"/": page}).start()
    try:
        app = app_factory(SENTRI_BROWSER_BLOCKED_NETWORKS=BLOCKED)
        project_id, _key, token = _project(app, site.url)
        with app.app_context():
            test = testcases.create(
                projects.get(project_id),
                {"name": "ws", "steps": [{"goto": "/"}, {"expect_text": {"css": "#h"}, "text": "closed"}]},
            )
            testcases.review(test, "approve")
        detail = _run(app.test_client(), project_id, token, _admin(app))
        result = detail["results"][0]
        assert result["status"] == "failed"
        assert "Sentri refused a WebSocket to ws://127.0.0.2:" in result["error"]
        assert metadata.hits == []
    finally:
        metadata.stop()
        site.stop()


def test_a_host_name_is_judged_by_the_address_it_resolves_to(app_factory, monkeypatch):
    """A name that resolves into a blocked network (as metadata.google.internal does) is refused before
    the browser connects; the guard's own lookup answers here, the browser never looks it up."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "metadata.internal.test":
            return real("127.0.0.2", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    site = StaticSite({"/": "<!doctype html><title>Home</title><h1>Home</h1>"}).start()
    try:
        app = app_factory(SENTRI_BROWSER_BLOCKED_NETWORKS=BLOCKED)
        project_id, key, token = _project(app, site.url)
        _approved_raw(
            app,
            key,
            "named",
            [
                {"action": "goto", "url": "/"},
                {"action": "goto", "url": "http://metadata.internal.test/computeMetadata/"},
            ],
        )
        result = _run(app.test_client(), project_id, token, _admin(app))["results"][0]
        assert result["status"] == "failed" and result["failingStep"] == 2
        assert "metadata.internal.test (127.0.0.2) is in the blocked network 127.0.0.2/32" in result["error"]
        # A base URL whose own host resolves there is refused too (its origin is not exempt from the route).
        named_id, named_key, named_token = _project(app, "http://metadata.internal.test")
        _approved_raw(app, named_key, "base", [{"action": "goto", "url": "/computeMetadata/"}])
        result = _run(app.test_client(), named_id, named_token, _admin(app))["results"][0]
        assert result["status"] == "failed" and result["failingStep"] == 1
        assert "metadata.internal.test (127.0.0.2) is in the blocked network" in result["error"]
    finally:
        site.stop()


METADATA_BODY = "AccessKeyId AKIAEXAMPLE SecretAccessKey wJalrXUtnFEMI-stand-in"


def test_no_redirect_walks_the_browser_into_a_blocked_network(app_factory):
    """Routes see only a redirect chain's first request; the context's gate sees every connection. Each way a
    page can send the browser on (302, 307, a chain through an allowed second site, meta refresh, a script,
    and a subresource's redirect) ends at the gate, before anything reaches the blocked stand-in; the step
    fails saying so, and nothing of the stand-in's answer is anywhere in the result."""
    metadata = StaticSite(
        {"/latest/meta-data/": f"<title>{METADATA_BODY}</title><h1>{METADATA_BODY}</h1>"}, host="127.0.0.2"
    ).start()
    secret = f"{metadata.url}/latest/meta-data/"
    hop = StaticSite({}, redirects={"/onward": (302, secret)}).start()
    site = StaticSite(
        {
            "/meta": f'<!doctype html><title>Shop</title><meta http-equiv="refresh" content="0;url={secret}"><h1>Shop</h1>',
            "/script": f"<!doctype html><title>Shop</title><h1>Shop</h1><script>location.href = {secret!r}</script>",
            "/picture": '<!doctype html><title>Shop</title><h1>Shop</h1><img src="/r302">'
            '<script>fetch("/r307").then(r => r.text()).then(t => document.title = t)</script>',
        },
        redirects={
            "/r302": (302, secret),
            "/r307": (307, secret),
            "/chain": (301, "/chain2"),
            "/chain2": (302, f"{hop.url}/onward"),
        },
    ).start()
    try:
        app = app_factory(SENTRI_BROWSER_BLOCKED_NETWORKS=BLOCKED)
        project_id, _key, token = _project(app, site.url)
        tests = {
            "302": [{"goto": "/r302"}, {"expect_title": METADATA_BODY}],
            "307": [{"goto": "/r307"}, {"expect_title": METADATA_BODY}],
            "chain": [{"goto": "/chain"}, {"expect_title": METADATA_BODY}],
            "meta refresh": [{"goto": "/meta"}, {"expect_title": METADATA_BODY, "timeout": 2000}],
            "script": [{"goto": "/script"}, {"expect_title": METADATA_BODY, "timeout": 2000}],
            "subresource": [{"goto": "/picture"}, {"expect_title": METADATA_BODY, "timeout": 2000}],
        }
        with app.app_context():
            for name, steps in tests.items():
                test = testcases.create(projects.get(project_id), {"name": name, "steps": steps})
                testcases.review(test, "approve")
        detail = _run(app.test_client(), project_id, token, _admin(app))
        junit = (
            app.test_client().get(f"/api/v1/runs/{detail['id']}/junit.xml", headers=_h(token)).get_data(True)
        )
        assert metadata.hits == []  # nothing, by any path, ever reached the blocked address
        assert {hit.path for hit in hop.hits} == {"/onward"}  # the allowed hop of the chain was followed
        by_name = {r["testName"]: r for r in detail["results"]}
        assert set(by_name) == set(tests)
        for name, result in by_name.items():
            assert result["status"] == "failed", (name, result)
            # The gate says "refused to connect to host:port"; a fresh navigation (meta refresh, script) meets the
            # route first, which says "refused to load <URL>".
            assert "Sentri refused to " in result["error"], (name, result["error"])
            assert f"127.0.0.2:{metadata.port}" in result["error"], (name, result["error"])
            assert "127.0.0.2 is in the blocked network 127.0.0.2/32" in result["error"], (
                name,
                result["error"],
            )
            assert "SecretAccessKey" not in result["error"] and result["screenshotUrl"] is None, name
        assert "SecretAccessKey" not in junit and "Sentri refused to connect to 127.0.0.2" in junit
    finally:
        for server in (metadata, hop, site):
            server.stop()


def _admin(app) -> dict:
    from sentri import users
    from sentri.auth import issue_jwt

    with app.test_request_context():
        existing = users.authenticate("guard-admin@example.com", "correct horse battery")
        user = existing or users.create_user("guard-admin@example.com", "correct horse battery", role="admin")
        return {"Authorization": f"Bearer {issue_jwt(user)[0]}"}
