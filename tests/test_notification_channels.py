"""Notification channels over the API: 400s naming the field (a bad kind or events, a file: or private
target, e-mail without SENTRI_SMTP_URL), the target a secret (masked for everyone, encrypted at rest, an
admin's to set), and POST .../test answering with what the receiver said."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from sentri.extensions import db
from sentri.notify.models import NotificationChannel
from tests.support.receivers import Receiver
from tests.test_notifications import _channel


@pytest.fixture
def app(app_factory):
    return app_factory(SENTRI_CALLBACK_ALLOWLIST="127.0.0.1")


def test_the_test_endpoint_answers_with_what_the_receiver_said(
    app, client, admin_headers, member_headers, project
):
    with Receiver("slack") as slack, Receiver("broken") as broken:
        ok = _channel(client, admin_headers, project["id"], kind="slack", target=slack.url)
        bad = _channel(client, admin_headers, project["id"], kind="discord", target=broken.url)
        base = f"/api/v1/projects/{project['id']}/notifications"
        assert client.post(f"{base}/{ok['id']}/test", headers=admin_headers).get_json() == {
            "delivered": True,
            "status": 200,
            "answer": "ok",
            "error": None,
        }
        answer = client.post(f"{base}/{bad['id']}/test", headers=admin_headers).get_json()
        assert (
            answer["delivered"] is False
            and answer["status"] == 500
            and answer["answer"] == "internal trouble"
        )
        assert client.post(f"{base}/{ok['id']}/test", headers=member_headers).status_code == 403
        assert slack.received[0]["blocks"][0]["text"]["text"].endswith("test message from Sentri (NTF-1)")


def test_bad_channels_get_a_400_naming_the_field(app_factory, admin_headers):
    app = app_factory()  # no allowlist: loopback and private addresses are refused
    client = app.test_client()
    project = client.post(
        "/api/v1/projects", json={"name": "Shop", "baseUrl": "http://127.0.0.1:9"}, headers=admin_headers
    ).get_json()
    cases = [
        ({"kind": "slack", "target": "file:///etc/passwd"}, "target: must be an http or https URL"),
        (
            {"kind": "webhook", "target": "http://10.1.2.3/hook"},
            'target: host "10.1.2.3" resolves to a private',
        ),
        (
            {"kind": "discord", "target": "http://127.0.0.1:9/hook"},
            'target: host "127.0.0.1" resolves to a loopback',
        ),
        ({"kind": "teams", "target": "https://example.com/x", "events": ["sometimes"]}, "events:"),
        ({"kind": "teams", "target": "https://example.com/x", "events": []}, "events:"),
        ({"kind": "pager", "target": "https://example.com/x"}, "kind:"),
        ({"kind": "email", "target": "ops@example.com"}, "kind: email needs the server's SENTRI_SMTP_URL"),
    ]
    for body, error in cases:
        response = client.post(
            f"/api/v1/projects/{project['id']}/notifications",
            json={"name": "x", **body},
            headers=admin_headers,
        )
        assert response.status_code == 400 and response.get_json()["error"].startswith(error), (
            body,
            response.json,
        )
    mailing = app_factory(SENTRI_SMTP_URL="smtp://127.0.0.1:9").test_client()
    response = mailing.post(
        f"/api/v1/projects/{project['id']}/notifications",
        json={"name": "x", "kind": "email", "target": "not-an-address"},
        headers=admin_headers,
    )
    assert response.status_code == 400 and response.get_json()["error"].startswith("target:")


def test_a_member_cannot_read_or_change_a_channels_target(
    app, client, admin_headers, member_headers, project
):
    secret = "http://127.0.0.1:9/services/T000/B000/XyZsecretXyZ"
    channel = _channel(client, admin_headers, project["id"], kind="slack", target=secret)
    base = f"/api/v1/projects/{project['id']}/notifications"
    for headers in (member_headers, admin_headers):  # masked for everyone: nobody reads it back
        for response in (
            client.get(base, headers=headers),
            client.get(f"{base}/{channel['id']}", headers=headers),
        ):
            assert response.status_code == 200 and "XyZsecretXyZ" not in response.get_data(as_text=True)
    assert channel["target"] == "http://127.0.0.1:9/••••"
    assert (
        client.post(
            base, json={"name": "x", "kind": "slack", "target": secret}, headers=member_headers
        ).status_code
        == 403
    )
    assert (
        client.patch(
            f"{base}/{channel['id']}", json={"target": secret + "2"}, headers=member_headers
        ).status_code
        == 403
    )
    assert client.delete(f"{base}/{channel['id']}", headers=member_headers).status_code == 403
    with app.app_context():  # encrypted at rest
        stored = db.session.execute(text("SELECT target FROM notification_channels")).scalar()
        assert (
            "XyZsecretXyZ" not in stored
            and db.session.scalar(select(NotificationChannel.target_hint)) == "http://127.0.0.1:9/••••"
        )
    changed = client.patch(
        f"{base}/{channel['id']}", json={"events": ["every"], "enabled": False}, headers=admin_headers
    ).get_json()
    assert changed["events"] == ["every"] and changed["enabled"] is False
    assert client.delete(f"{base}/{channel['id']}", headers=admin_headers).status_code == 200
