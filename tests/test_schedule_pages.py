"""The Schedules & alerts tab: create, pause and resume a schedule (next runs in its zone, last runs, a
skip), add a channel, send it a test and see how it went; CSRF on every form, members kept to their role,
channel targets never in the page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sentri.extensions import db
from sentri.schedules import firing
from sentri.schedules.models import Schedule
from tests.support.receivers import Receiver
from tests.test_ui_pages import XSS, add_test


@pytest.fixture
def app(app_factory):
    return app_factory(SENTRI_CALLBACK_ALLOWLIST="127.0.0.1")


def _page(browser, shop_id: str) -> str:
    return browser.html(f"/projects/{shop_id}/schedules")


def test_the_tab_is_in_the_project_nav(admin, shop):
    assert f'href="/projects/{shop}/schedules"' in admin.html(f"/projects/{shop}/tests")
    assert "No schedules yet." in _page(admin, shop) and "No channels yet." in _page(admin, shop)


def test_a_schedule_is_created_paused_and_resumed_from_the_page(app, admin, member, shop):
    add_test(app, shop)
    created = admin.post(
        f"/projects/{shop}/schedules",
        data={"name": "nightly", "cron": "0 2 * * *", "timezone": "Europe/Berlin", "enabled": "on"},
    )
    assert created.status_code == 302
    page = _page(admin, shop)
    assert "Schedule SCH-1 (nightly) created: At 02:00." in page
    assert (
        '<code class="nowrap">0 2 * * *</code> Europe/Berlin' in page and page.count(" 02:00 CE") == 3
    )  # the next three

    assert member.post(f"/projects/{shop}/schedules/SCH-1/pause").status_code == 302  # any user pauses
    page = _page(member, shop)
    assert "(paused)" in page and "none while paused" in page and ">Resume<" in page
    assert "schedules/SCH-1/delete" not in page  # deleting is an admin's
    assert member.post(f"/projects/{shop}/schedules/SCH-1/delete").status_code == 403
    assert admin.post(f"/projects/{shop}/schedules/SCH-1/resume").status_code == 302
    assert "(paused)" not in _page(admin, shop)
    assert admin.post(f"/projects/{shop}/schedules/SCH-1/delete").status_code == 302
    assert "No schedules yet." in _page(admin, shop)


def test_a_bad_schedule_is_shown_again_with_the_field_named(app, admin, shop):
    add_test(app, shop)
    response = admin.post(
        f"/projects/{shop}/schedules",
        data={"name": "nightly", "cron": "61 * * * *", "timezone": "Mars/Olympus_Mons"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="schedule-cron-error">cron: ' in html
    assert 'value="61 * * * *"' in html and 'value="nightly"' in html
    response = admin.post(
        f"/projects/{shop}/schedules",
        data={"name": "n", "cron": "0 2 * * *", "timezone": "Mars/Olympus_Mons"},
    )
    assert response.status_code == 400 and 'id="schedule-timezone-error">timezone: ' in response.get_data(
        as_text=True
    )


def test_last_runs_and_a_skip_are_shown(app, admin, shop):
    add_test(app, shop)
    admin.post(f"/projects/{shop}/schedules", data={"name": XSS, "cron": "* * * * *", "enabled": "on"})
    now = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
    with app.app_context():
        db.session.get(Schedule, 1).next_run_at = now.replace(second=0)
        db.session.commit()
        [run_id] = firing.fire_due(now)
        db.session.get(Schedule, 1).next_run_at = now.replace(minute=1, second=0)
        db.session.commit()
        assert firing.fire_due(now.replace(minute=1, second=5)) == []  # the run above still holds the project
    page = _page(admin, shop)
    assert f'href="/runs/RUN-{run_id}">RUN-{run_id}</a>' in page
    assert "(busy)" in page and XSS not in page and "&lt;script&gt;" in page
    named = "&lt;script&gt;alert(1)&lt;/script&gt; (SCH-1)"  # a scheduled run is shown by its schedule's name
    assert named in admin.html(f"/runs/RUN-{run_id}") and named in admin.html(f"/projects/{shop}/runs")


def test_channels_are_added_tested_and_shown_masked(app, admin, member, shop):
    with Receiver("slack") as slack:
        added = admin.post(
            f"/projects/{shop}/notifications",
            data={"name": "qa", "kind": "slack", "target": slack.url, "events": ["failed"]},
        )
        assert added.status_code == 302 and added.location.endswith("#alerts")
        tested = admin.post(f"/projects/{shop}/notifications/NTF-1/test")
        assert tested.status_code == 302 and len(slack.received) == 1
        page = _page(admin, shop)
        assert "NTF-1 received the test message (answer 200)." in page and "delivered test" in page
        for html in (page, _page(member, shop)):
            assert (
                "secret-slack-path" not in html
                and f"http://127.0.0.1:{slack.url.split(':')[2].split('/')[0]}/••••" in html
            )
        assert "Only admins add, test and delete channels." in _page(member, shop)
        for action in ("test", "pause", "delete"):
            assert member.post(f"/projects/{shop}/notifications/NTF-1/{action}").status_code == 403
        assert (
            member.post(
                f"/projects/{shop}/notifications", data={"name": "x", "kind": "slack", "target": slack.url}
            ).status_code
            == 403
        )
        assert len(slack.received) == 1
    assert admin.post(f"/projects/{shop}/notifications/NTF-1/pause").status_code == 302
    assert "slack, paused" in _page(admin, shop)
    assert admin.post(f"/projects/{shop}/notifications/NTF-1/delete").status_code == 302
    assert "No channels yet." in _page(admin, shop)


def test_a_bad_channel_is_refused_naming_the_field_without_echoing_the_target(admin, shop):
    secret = "http://10.1.2.3/hooks/XyZsecretXyZ"
    response = admin.post(
        f"/projects/{shop}/notifications",
        data={"name": "qa", "kind": "webhook", "target": secret, "events": ["failed"]},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="channel-target-error">target: ' in html
    assert "XyZsecretXyZ" not in html and 'value="qa"' in html
    response = admin.post(
        f"/projects/{shop}/notifications",
        data={"name": "qa", "kind": "email", "target": "ops@example.com", "events": ["failed"]},
    )
    assert response.status_code == 400 and "SENTRI_SMTP_URL" in response.get_data(as_text=True)


def test_every_form_needs_the_csrf_token(app, admin, shop):
    add_test(app, shop)
    assert (
        admin.post(f"/projects/{shop}/schedules", data={"name": "n", "cron": "0 2 * * *"}).status_code == 302
    )
    assert (
        admin.post(
            f"/projects/{shop}/notifications",
            data={"name": "qa", "kind": "webhook", "target": "http://127.0.0.1:9/hook", "events": ["failed"]},
        ).status_code
        == 302
    )
    for path in (
        "schedules",
        "schedules/SCH-1/pause",
        "schedules/SCH-1/delete",
        "notifications",
        "notifications/NTF-1/test",
        "notifications/NTF-1/pause",
        "notifications/NTF-1/delete",
    ):
        assert admin.client.post(f"/projects/{shop}/{path}", data={"name": "x"}).status_code == 400, path
