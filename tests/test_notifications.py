"""Alerts to real receivers on loopback: each service's payload shape, failed -> failed -> passed giving two
alerts (failed, recovered), e-mail into an aiosmtpd server, receivers that hang or answer 500 delaying
neither the run nor the other channels, retries with back-off, the SSRF rules at send time and a target
never logged. The channel API's own rules are in test_notification_channels.py."""

from __future__ import annotations

import email
import logging
import threading
import time
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select, update

from sentri.extensions import db
from sentri.models import Project, Run, utcnow
from sentri.notify import deliver, outbox
from sentri.notify.models import NotificationDelivery
from sentri.runs.options import RunOptions
from tests.conftest import both_databases
from tests.support.receivers import Receiver
from tests.support.runs import recorded_run
from tests.support.server import free_port

FAILED = [
    {"status": "passed"},
    {"status": "failed", "error": "The heading said Oops, not OK.", "failing_step": 2},
]
PASSED = [{"status": "passed"}, {"status": "passed"}]
# More than the sender reads (deliver.ANSWER_BYTES) plus what sockets buffer, far less than the whole flood.
FLOOD_READ_AT_MOST = 16 * 1024 * 1024


@pytest.fixture
def app(app_factory):
    return app_factory(SENTRI_CALLBACK_ALLOWLIST="127.0.0.1")


def _channel(client, headers, project_id: str, expect: int = 201, **body) -> dict:
    response = client.post(
        f"/api/v1/projects/{project_id}/notifications", json={"name": "alerts", **body}, headers=headers
    )
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def _run(app, project_id: str, results: list[dict], **options) -> int:
    with app.app_context():
        run = recorded_run(
            db.session.get(Project, Project.key_of(project_id)), results, options=RunOptions(**options)
        )
        return run.id


def _settled(app, run_id: int, timeout: float = 30.0) -> list[NotificationDelivery]:
    """Wait until the run's end was taken and none of its deliveries is still pending or being sent."""
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            taken = db.session.get(Run, run_id).notify_state == "sent"
            rows = list(
                db.session.scalars(select(NotificationDelivery).where(NotificationDelivery.run_id == run_id))
            )
            db.session.expunge_all()
        if taken and all(r.state not in ("pending", "sending") for r in rows):
            return rows
        assert time.monotonic() < deadline, f"RUN-{run_id}: deliveries still {[r.state for r in rows]}"
        time.sleep(0.05)


@both_databases
def test_failed_failed_passed_alerts_twice_failed_then_recovered(app, client, admin_headers, project):
    with Receiver("webhook") as receiver:
        _channel(client, admin_headers, project["id"], kind="webhook", target=receiver.url)
        runs = [_run(app, project["id"], results) for results in (FAILED, FAILED, PASSED)]
        for run_id in runs:
            _settled(app, run_id)
        # The two deliveries go out side by side once the runs are recorded: in run order, not arrival order.
        bodies = sorted(receiver.wait_for(2), key=lambda body: int(body["run"]["id"].removeprefix("RUN-")))
    assert [(b["event"], b["run"]["id"]) for b in bodies] == [
        ("failed", f"RUN-{runs[0]}"),
        ("recovered", f"RUN-{runs[2]}"),
    ]
    assert bodies[0]["verdict"] == "failed" and bodies[1]["verdict"] == "passed"
    assert bodies[0]["failures"][0]["error"] == "The heading said Oops, not OK."
    status = client.get(f"/api/v1/runs/RUN-{runs[1]}", headers=admin_headers).get_json()
    assert "notifications" not in status["integrations"]  # the second failure tells nobody


def test_every_end_and_sources_are_told_apart(app, client, admin_headers, project):
    """`every` hears each end; a failure on another branch is another source, so main's pass is no recovery."""
    with Receiver("webhook") as every, Receiver("webhook") as changes:
        _channel(client, admin_headers, project["id"], kind="webhook", target=every.url, events=["every"])
        _channel(client, admin_headers, project["id"], kind="webhook", target=changes.url)
        runs = [
            _run(app, project["id"], FAILED, branch="feature"),
            _run(app, project["id"], PASSED, branch="main"),
        ]
        for run_id in runs:
            _settled(app, run_id)
        assert [b["event"] for b in every.wait_for(2)] == ["every", "every"]
        assert [(b["event"], b["source"]["branch"]) for b in changes.wait_for(1)] == [("failed", "feature")]


def test_each_service_gets_its_own_format(app, client, admin_headers, project):
    gates = client.patch(
        f"/api/v1/projects/{project['id']}/quality-gates", json={"minPassRate": 95}, headers=admin_headers
    )
    assert gates.status_code == 200, gates.get_json()
    with (
        Receiver("slack") as slack,
        Receiver("teams") as teams,
        Receiver("discord") as discord,
        Receiver("webhook") as hook,
    ):
        for kind, receiver in (("slack", slack), ("teams", teams), ("discord", discord), ("webhook", hook)):
            _channel(client, admin_headers, project["id"], name=kind, kind=kind, target=receiver.url)
        run_id = _run(app, project["id"], FAILED)
        rows = _settled(app, run_id)
        assert {r.state for r in rows} == {"delivered"} and len(rows) == 4
        run_url = f"http://127.0.0.1:8000/runs/RUN-{run_id}"

        [message] = slack.received  # Block Kit, within Slack's limits
        assert message["text"] and [b["type"] for b in message["blocks"]][:2] == ["header", "section"]
        header = message["blocks"][0]["text"]
        assert header["type"] == "plain_text" and len(header["text"]) <= 150 and "Shop" in header["text"]
        for block in message["blocks"][1:-1]:
            assert block["type"] == "section" and len(block.get("fields", [])) <= 10
            assert all(
                len(t["text"]) <= 3000 for t in [block.get("text") or {"text": ""}, *block.get("fields", [])]
            )
        sections = " ".join(b.get("text", {}).get("text", "") for b in message["blocks"])
        assert "The heading said Oops, not OK." in sections and "minPassRate" in sections
        button = message["blocks"][-1]["elements"][0]
        assert (
            message["blocks"][-1]["type"] == "actions"
            and button["type"] == "button"
            and button["url"] == run_url
        )

        [message] = teams.received  # a Workflows webhook's message with one Adaptive Card
        assert message["type"] == "message" and len(message["attachments"]) == 1
        attachment = message["attachments"][0]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = attachment["content"]
        assert (
            card["type"] == "AdaptiveCard" and card["version"] == "1.4" and card["$schema"].startswith("http")
        )
        assert {"TextBlock", "FactSet"} <= {item["type"] for item in card["body"]}
        facts = {
            fact["title"]: fact["value"]
            for item in card["body"]
            if item["type"] == "FactSet"
            for fact in item["facts"]
        }
        assert facts["Project"] == "Shop" and facts["Verdict"] == "failed" and "1 failed" in facts["Tests"]
        assert card["actions"] == [{"type": "Action.OpenUrl", "title": f"Open RUN-{run_id}", "url": run_url}]

        [message] = discord.received  # one embed within Discord's limits, mentioning nobody
        assert message["allowed_mentions"] == {"parse": []} and len(message["embeds"]) == 1
        embed = message["embeds"][0]
        assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096 and embed["url"] == run_url
        assert isinstance(embed["color"], int) and len(embed["fields"]) <= 25
        assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in embed["fields"])
        total = (
            len(embed["title"])
            + len(embed["description"])
            + len(embed["footer"]["text"])
            + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
        )
        assert total <= 6000 and any("Oops" in f["value"] for f in embed["fields"])

        [message] = hook.received  # the summary as JSON
        assert message["event"] == "failed" and message["project"] == {"id": project["id"], "name": "Shop"}
        assert message["run"]["failed"] == 1 and message["run"]["url"] == run_url
        assert message["violations"] and message["violations"][0].startswith("Quality gate minPassRate")
        assert message["source"]["kind"] == "user"

    status = client.get(f"/api/v1/runs/RUN-{run_id}", headers=admin_headers).get_json()
    told = {n["name"]: n for n in status["integrations"]["notifications"]}
    assert set(told) == {"slack", "teams", "discord", "webhook"}
    assert {n["state"] for n in told.values()} == {"delivered"} and told["slack"]["status"] == 200
    channels = client.get(f"/api/v1/projects/{project['id']}/notifications", headers=admin_headers).get_json()
    assert {c["lastDelivery"]["state"] for c in channels} == {"delivered"}


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"alerts",
        b"s3cret",
    )
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    # Loopback, so Sentri may log in without TLS; anywhere else it insists on STARTTLS or smtps://.
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), authenticator=_authenticate, auth_require_tls=False
    )
    controller.start()
    yield controller, inbox
    controller.stop()


def test_an_email_alert_arrives_as_plain_text_and_html(app_factory, smtp_server, admin_headers):
    controller, inbox = smtp_server
    app = app_factory(
        SENTRI_SMTP_URL=f"smtp://alerts:s3cret@127.0.0.1:{controller.port}?from=sentri%40example.com"
    )
    client = app.test_client()
    project = client.post(
        "/api/v1/projects", json={"name": "Shop", "baseUrl": "http://127.0.0.1:9"}, headers=admin_headers
    ).get_json()
    channel = _channel(
        client, admin_headers, project["id"], kind="email", target="ops@example.com, qa@example.com"
    )
    assert channel["target"] == "o••••@example.com, q••••@example.com"
    tested = client.post(
        f"/api/v1/projects/{project['id']}/notifications/{channel['id']}/test", headers=admin_headers
    ).get_json()
    assert tested["delivered"] is True and tested["status"] == 250 and "accepted" in tested["answer"], tested

    run_id = _run(app, project["id"], FAILED)
    [row] = _settled(app, run_id)
    assert row.state == "delivered" and row.last_status == 250
    assert len(inbox.messages) == 2
    envelope = inbox.messages[-1]
    assert envelope.mail_from == "sentri@example.com" and envelope.rcpt_tos == [
        "ops@example.com",
        "qa@example.com",
    ]
    message = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert message.get_content_type() == "multipart/alternative" and "Shop" in message["Subject"]
    plain = message.get_body(("plain",)).get_content()
    markup = message.get_body(("html",)).get_content()
    assert "The heading said Oops, not OK." in plain and f"/runs/RUN-{run_id}" in plain
    assert "<li>" in markup and f"RUN-{run_id}" in markup


def test_hanging_and_failing_receivers_delay_neither_the_run_nor_the_other_channels(
    app, client, admin_headers, project, monkeypatch, caplog
):
    monkeypatch.setattr(deliver, "DELIVERY_TIMEOUT_SECONDS", 1.0)
    caplog.set_level(logging.INFO)
    with Receiver("hang") as hung, Receiver("broken") as broken, Receiver("webhook") as good:
        for name, receiver in (("hung", hung), ("broken", broken), ("good", good)):
            _channel(client, admin_headers, project["id"], name=name, kind="webhook", target=receiver.url)
        run_id = _run(app, project["id"], FAILED)
        assert good.wait_for(1) and not hung.release.is_set()  # told while the hung receiver still holds on
        with app.app_context():
            assert db.session.get(Run, run_id).status == "completed"
        rows = {r.channel_id: r for r in _settled(app, run_id)}
    states = {
        c["name"]: c
        for c in client.get(
            f"/api/v1/projects/{project['id']}/notifications", headers=admin_headers
        ).get_json()
    }
    assert states["good"]["lastDelivery"]["state"] == "delivered" and states["good"]["lastError"] is None
    assert states["hung"]["lastError"] == "127.0.0.1 did not answer within 1 s"
    assert states["broken"]["lastError"] == "127.0.0.1 answered 500: internal trouble"
    assert {r.state for r in rows.values()} == {"delivered", "retrying"}
    told = {
        n["name"]: n
        for n in client.get(f"/api/v1/runs/RUN-{run_id}", headers=admin_headers).get_json()["integrations"][
            "notifications"
        ]
    }
    assert (
        told["broken"]["state"] == "retrying"
        and told["broken"]["nextAttemptAt"]
        and told["broken"]["attempts"] == 1
    )
    for receiver in (hung, broken, good):  # the secret part of a webhook URL is never logged
        assert "secret-" not in caplog.text and receiver.url not in caplog.text


@both_databases
def test_processes_racing_for_a_due_delivery_send_it_once(app_factory, client, admin_headers, project):
    """Four apps on one database (each its own connections, as processes are) attempt the same due delivery at
    the same instant: one claims and sends it, the others find it taken."""
    with Receiver("webhook") as receiver:
        _channel(client, admin_headers, project["id"], kind="webhook", target=receiver.url)
        apps = [app_factory(SENTRI_CALLBACK_ALLOWLIST="127.0.0.1") for _ in range(4)]
        [row] = _settled(apps[0], _run(apps[0], project["id"], FAILED))
        with apps[0].app_context():  # due again, as a retry would be
            db.session.execute(
                update(NotificationDelivery)
                .where(NotificationDelivery.id == row.id)
                .values(state="retrying", next_attempt_at=utcnow())
            )
            db.session.commit()
        barrier = threading.Barrier(len(apps))
        outcomes: list = [None] * len(apps)

        def race(index: int) -> None:
            with apps[index].app_context():
                barrier.wait()
                outcomes[index] = outbox.attempt(apps[index], row.id, f"process-{index}")

        threads = [threading.Thread(target=race, args=(i,)) for i in range(len(apps))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert [o.delivered for o in outcomes if o is not None] == [True], outcomes
        assert len(receiver.received) == 2  # the first delivery, and the one retry
        with apps[0].app_context():
            final = db.session.get(NotificationDelivery, row.id)
            assert final.state == "delivered" and final.attempts == 2 and final.owner is None


@both_databases
def test_a_failing_delivery_is_retried_with_back_off_a_bounded_number_of_times(
    app, client, admin_headers, project
):
    with Receiver("broken") as broken:
        _channel(client, admin_headers, project["id"], kind="slack", target=broken.url)
        run_id = _run(app, project["id"], FAILED)
        [row] = _settled(app, run_id)
        now = utcnow()
        with app.app_context():
            for attempt in range(2, outbox.MAX_ATTEMPTS + 1):
                assert outbox.due(now) == []  # not before its back-off
                now += timedelta(seconds=outbox.BACKOFF_SECONDS[attempt - 2] + 1)
                assert outbox.due(now) == [row.id]
                assert outbox.attempt(app, row.id, "test-process", now).status == 500
            final = db.session.get(NotificationDelivery, row.id)
            assert final.state == "failed" and final.attempts == outbox.MAX_ATTEMPTS
            assert outbox.due(now + timedelta(days=1)) == []
        assert len(broken.received) == outbox.MAX_ATTEMPTS


def test_a_receiver_can_neither_redirect_an_alert_nor_flood_the_sender(app, client, admin_headers, project):
    """The answer is read up to a bound, then the connection is dropped; a redirect is an answer, not followed
    (not to another allowed receiver, and not to a private address)."""
    with Receiver("webhook") as elsewhere, Receiver("flood") as flood:
        with (
            Receiver("redirect", location=elsewhere.url) as moved,
            Receiver("redirect", location="http://10.1.2.3/hook") as private,
        ):
            for name, receiver in (("flood", flood), ("moved", moved), ("private", private)):
                _channel(client, admin_headers, project["id"], name=name, kind="webhook", target=receiver.url)
            run_id = _run(app, project["id"], FAILED)
            _settled(app, run_id)
        assert elsewhere.received == [] and len(flood.received) == 1
        assert flood.flooded < FLOOD_READ_AT_MOST, flood.flooded
    told = {
        n["name"]: n
        for n in client.get(f"/api/v1/runs/RUN-{run_id}", headers=admin_headers).get_json()["integrations"][
            "notifications"
        ]
    }
    assert told["moved"]["state"] == told["private"]["state"] == "failed"  # a 3xx is not worth a retry
    assert told["moved"]["lastError"] == "127.0.0.1 answered 307" and told["moved"]["status"] == 307
    assert told["flood"]["state"] == "retrying" and told["flood"]["status"] == 500
    assert len(told["flood"]["lastError"]) < 250 and told["flood"]["lastError"].startswith(
        "127.0.0.1 answered 500: x"
    )


def test_the_ssrf_rules_hold_at_send_time_too(app_factory, client, admin_headers, project):
    """A target allowed when it was set goes nowhere once SENTRI_CALLBACK_ALLOWLIST no longer allows it."""
    with Receiver("webhook") as receiver:
        _channel(client, admin_headers, project["id"], kind="webhook", target=receiver.url)
        stricter = app_factory()  # the same database, no allowlist: loopback is private again
        with stricter.app_context():
            run = recorded_run(db.session.get(Project, Project.key_of(project["id"])), FAILED)
            run_id = run.id
        [row] = _settled(stricter, run_id)
        assert row.state == "failed" and row.last_error.startswith("refused by the SSRF rules: target host")
        assert receiver.received == []
