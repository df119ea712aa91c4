"""First start: an admin with a generated password and the demo project, printed once."""

from __future__ import annotations

from sentri import testcases, users
from sentri.bootstrap import demo_base_url, first_run
from sentri.server import prepare


def test_first_start_prints_the_login_once_and_creates_the_demo(app_factory, capsys):
    app = app_factory(SENTRI_DEMO=True, SENTRI_PORT=8123)
    prepare(app)
    out = capsys.readouterr().out
    assert "admin@sentri.internal" in out and "PRJ-1" in out
    password = out.split("password: ")[1].split()[0]
    with app.app_context():
        assert users.authenticate("admin@sentri.internal", password).is_admin
        from sentri import projects

        demo = projects.get("PRJ-1")
        assert demo.is_demo and demo.base_url == "http://127.0.0.1:8123/demo"
        approved, total = testcases.list_for(demo, status="approved")
        assert total == 3 and all(t.steps for t in approved)
    prepare(app)
    assert capsys.readouterr().out == ""


def test_no_demo_when_switched_off_and_no_admin_when_users_exist(app_factory):
    app = app_factory(SENTRI_DEMO=False)
    with app.app_context():
        created = first_run(app)
        assert created.demo_project_id is None
        assert first_run(app) is None


def test_demo_base_url_follows_the_listen_address(app_factory):
    assert demo_base_url(app_factory(SENTRI_HOST="0.0.0.0", SENTRI_PORT=9000)) == "http://127.0.0.1:9000/demo"


def test_the_demo_project_follows_the_port_the_server_starts_on(app_factory, capsys):
    from sentri import projects

    first = app_factory(SENTRI_DEMO=True, SENTRI_PORT=8123)
    prepare(first)
    capsys.readouterr()
    again = app_factory(SENTRI_DEMO=True, SENTRI_PORT=9001)
    prepare(again)
    with again.app_context():
        assert projects.get("PRJ-1").base_url == "http://127.0.0.1:9001/demo"
        other = projects.create("Mine", "http://127.0.0.1:8123/app")
        other_id = other.public_id
    prepare(again)
    with again.app_context():
        assert projects.get(other_id).base_url == "http://127.0.0.1:8123/app"  # not a demo: untouched
