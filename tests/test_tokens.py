"""Trigger tokens: format, hashing at rest, once-only plaintext, scope, cap, expiry and revocation."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from sentri import tokens
from sentri.database import write
from sentri.extensions import db
from sentri.models import TriggerToken, utcnow


def test_format_and_checksum():
    value = tokens.generate()
    assert value.startswith("sentri_") and len(value) == 7 + 32 + 6
    assert tokens.is_well_formed(value)
    assert value != tokens.generate()
    typo = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
    assert not tokens.is_well_formed(typo)
    assert not tokens.is_well_formed(value[:-1])
    assert not tokens.is_well_formed("sentri_" + "!" * 38)
    assert not tokens.is_well_formed("github_" + value[7:])


def _mint(client, project, headers, **body):
    return client.post(f"/api/v1/projects/{project['id']}/trigger-tokens", json=body, headers=headers)


def test_create_shows_the_plaintext_once_and_stores_only_its_hash(app, client, project, admin_headers):
    created = _mint(client, project, admin_headers, label="GitHub Actions")
    assert created.status_code == 201
    body = created.get_json()
    assert set(body) == {"id", "token", "label", "prefix", "createdAt", "expiresAt"}
    plaintext = body["token"]
    assert tokens.is_well_formed(plaintext) and body["expiresAt"] is None

    listing = client.get(f"/api/v1/projects/{project['id']}/trigger-tokens", headers=admin_headers).get_json()
    assert listing == [
        {
            "id": body["id"],
            "label": "GitHub Actions",
            "prefix": plaintext[:13],
            "createdAt": body["createdAt"],
            "lastUsedAt": None,
            "expiresAt": None,
        }
    ]
    with app.app_context():
        row = db.session.get(TriggerToken, 1)
        assert row.token_hash == tokens.hash_token(plaintext)
        db.session.remove()
        db.engine.dispose()
    database = Path(app.instance_path) / "sentri.db"
    with sqlite3.connect(database) as raw:
        raw.execute("PRAGMA wal_checkpoint(FULL)")
        columns = [r[1] for r in raw.execute("PRAGMA table_info(trigger_tokens)")]
        rows = raw.execute("SELECT * FROM trigger_tokens").fetchall()
    assert "token" not in columns and all(plaintext not in str(v) for v in rows[0])
    for path in Path(app.instance_path).glob("sentri.db*"):
        assert plaintext.encode() not in path.read_bytes()
        assert plaintext[13:].encode() not in path.read_bytes()


def test_only_admins_mint_and_revoke(client, project, admin_headers, member_headers):
    assert _mint(client, project, member_headers).status_code == 403
    token_id = _mint(client, project, admin_headers).get_json()["id"]
    path = f"/api/v1/projects/{project['id']}/trigger-tokens/{token_id}"
    assert client.delete(path, headers=member_headers).status_code == 403
    assert (
        client.get(f"/api/v1/projects/{project['id']}/trigger-tokens", headers=member_headers).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"label": 5}, "label"),
        ({"expiresInDays": 0}, "expiresInDays"),
        ({"expiresInDays": "7"}, "expiresInDays"),
        ({"colour": "red"}, "colour"),
        ({"label": "x" * 101}, "label"),
    ],
)
def test_bad_token_bodies_get_400(client, project, admin_headers, body, field):
    response = _mint(client, project, admin_headers, **body)
    assert response.status_code == 400 and field in response.get_json()["error"]


def test_a_token_of_project_a_is_invisible_through_project_b(client, project, admin_headers):
    other = client.post(
        "/api/v1/projects", json={"name": "B", "baseUrl": "http://127.0.0.1:9"}, headers=admin_headers
    ).get_json()
    token_id = _mint(client, project, admin_headers).get_json()["id"]
    assert (
        client.get(f"/api/v1/projects/{other['id']}/trigger-tokens", headers=admin_headers).get_json() == []
    )
    wrong = client.delete(f"/api/v1/projects/{other['id']}/trigger-tokens/{token_id}", headers=admin_headers)
    assert wrong.status_code == 404
    right = client.delete(
        f"/api/v1/projects/{project['id']}/trigger-tokens/{token_id}", headers=admin_headers
    )
    assert right.status_code == 200 and right.get_json() == {"ok": True}
    again = client.delete(
        f"/api/v1/projects/{project['id']}/trigger-tokens/{token_id}", headers=admin_headers
    )
    assert again.status_code == 404


def test_the_per_project_cap_is_a_400(app_factory):
    app = app_factory(SENTRI_MAX_TOKENS_PER_PROJECT=2)
    from sentri import projects

    with app.app_context():
        project = projects.create("P", "http://127.0.0.1:9")
        tokens.create(project)
        tokens.create(project)
        from sentri.errors import ValidationFailed

        with pytest.raises(ValidationFailed, match="SENTRI_MAX_TOKENS_PER_PROJECT=2"):
            tokens.create(project)


def test_trigger_authentication_rules(app):
    from sentri import projects
    from sentri.errors import Forbidden, NotFound, Unauthorized

    with app.app_context():
        a = projects.create("A", "http://127.0.0.1:9")
        b = projects.create("B", "http://127.0.0.1:9")
        token, plaintext = tokens.create(a)
        assert tokens.authenticate(f"Bearer {plaintext}", "PRJ-1")[1].id == a.id
        assert tokens.authenticate(f"Bearer aegis_{plaintext}", "PRJ-1")[1].id == a.id
        with pytest.raises(Forbidden):
            tokens.authenticate(f"Bearer {plaintext}", b.public_id)
        with pytest.raises(NotFound):  # the token is checked first, so ids cannot be probed without one
            tokens.authenticate(f"Bearer {plaintext}", "PRJ-404")
        for header in (
            None,
            "",
            "Bearer",
            f"Basic {plaintext}",
            f"Bearer {plaintext}x",
            f"Bearer {tokens.generate()}",
        ):
            with pytest.raises(Unauthorized):
                tokens.authenticate(header, "PRJ-404")

        expiring, expiring_plain = tokens.create(a, expires_in_days=1)
        db.session.get(TriggerToken, expiring.id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        with pytest.raises(Unauthorized, match="expired"):
            tokens.authenticate(f"Bearer {expiring_plain}", "PRJ-1")

        tokens.revoke(db.session.get(TriggerToken, token.id))
        with pytest.raises(Unauthorized):
            tokens.authenticate(f"Bearer {plaintext}", "PRJ-1")


def test_last_used_is_throttled_for_status_reads(app):
    from sentri import projects

    with app.app_context():
        project = projects.create("A", "http://127.0.0.1:9")
        token, _ = tokens.create(project)
        tokens.touch(token, min_interval=tokens.LAST_USED_STATUS_INTERVAL)
        first = db.session.get(TriggerToken, token.id).last_used_at
        assert first is not None
        tokens.touch(token, min_interval=tokens.LAST_USED_STATUS_INTERVAL)
        assert db.session.get(TriggerToken, token.id).last_used_at == first
        tokens.touch(token)  # a trigger always records its use
        assert db.session.get(TriggerToken, token.id).last_used_at >= first


def test_deleting_a_project_hard_deletes_its_tokens(app, client, project, admin_headers):
    plaintext = _mint(client, project, admin_headers).get_json()["token"]
    assert client.delete(f"/api/v1/projects/{project['id']}", headers=admin_headers).status_code == 200
    with app.app_context():
        assert db.session.query(TriggerToken).count() == 0
        from sentri.errors import Unauthorized

        with pytest.raises(Unauthorized):
            tokens.authenticate(f"Bearer {plaintext}", project["id"])


def test_status_polls_share_one_bucket_per_ip_for_junk_tokens_and_one_per_valid_token(app_factory):
    from sentri import projects

    app = app_factory(RATELIMIT_ENABLED=True, SENTRI_API_RATE_LIMIT="3 per minute")
    client = app.test_client()
    with app.app_context():
        project = projects.create("A", "http://127.0.0.1:9")
        _, first = tokens.create(project)
        _, second = tokens.create(project)
    # Every junk string is a new "token", yet they all come from this client's address: one bucket.
    junk = [{"Authorization": f"Bearer junk-{n}"} for n in range(4)]
    codes = [
        client.get("/api/v1/ci/runs/RUN-1", headers=junk[0]).status_code,
        client.get("/api/v1/projects/PRJ-1/trigger/runs/RUN-1", headers=junk[1]).status_code,
        client.get("/api/v1/ci/runs/RUN-1", headers=junk[2]).status_code,
        client.get("/api/v1/ci/runs/RUN-1", headers=junk[3]).status_code,
    ]
    assert codes == [401, 401, 401, 429]
    assert (
        client.get(
            "/api/v1/ci/runs/RUN-1", headers={"Authorization": f"Bearer {tokens.generate()}"}
        ).status_code
        == 429
    )  # well-formed but unknown is junk too
    # A valid token has its own budget, whatever the address has spent, and each token its own.
    for plaintext in (first, second):
        headers = {"Authorization": f"Bearer {plaintext}"}
        codes = [
            client.get("/api/v1/ci/runs/RUN-1", headers=headers).status_code,
            client.get("/api/v1/projects/PRJ-1/trigger/runs/RUN-1", headers=headers).status_code,
            client.get("/api/v1/ci/runs/RUN-1", headers=headers).status_code,
            client.get("/api/v1/ci/runs/RUN-1", headers=headers).status_code,
        ]
        assert codes == [404, 404, 404, 429]


def _project_with_token(app_factory, *, with_run=False):
    """A rate-limited app, a project with one trigger token (and, asked, one finished run of it);
    returns (app, client, Authorization headers, the token's row id)."""
    from sentri import projects
    from sentri.models import Run

    app = app_factory(RATELIMIT_ENABLED=True)
    with app.app_context():
        project = projects.create("A", "http://127.0.0.1:9")
        token, plaintext = tokens.create(project)
        if with_run:
            with write():
                db.session.add(
                    Run(
                        project_id=project.id,
                        trigger_source="token",
                        status="completed",
                        total=1,
                        passed=1,
                        plan=[{"position": 1, "testId": "TST-1"}] * 500,
                    )
                )
        token_id = token.id
    return app, app.test_client(), {"Authorization": f"Bearer {plaintext}"}, token_id


def test_a_status_poll_is_one_query_for_the_token_and_the_run(app_factory):
    """The rate limiter's key and the view share one read; the run's plan (a long run's biggest column)
    is not part of it."""
    from sqlalchemy import event

    app, client, headers, _ = _project_with_token(app_factory, with_run=True)
    with app.app_context():
        engine = db.engine
    selects = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for url in ("/api/v1/ci/runs/RUN-1", "/api/v1/projects/PRJ-1/trigger/runs/RUN-1"):
            selects.clear()
            answer = client.get(url, headers=headers)
            assert answer.status_code == 200 and answer.get_json()["passed"] == 1
            assert len(selects) == 1, selects
            assert "FROM trigger_tokens" in selects[0] and "runs.plan" not in selects[0]
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_polled_columns_make_the_same_status_body_as_the_run_row(app_factory):
    """The poll reads columns, not the ORM row: every field of both status bodies must come out the same, for
    a run with every field set (a column left out of the poll would be a 500, or a wrong body)."""
    from sentri.models import Run
    from sentri.routes import api_ci, triggering

    app, client, headers, _ = _project_with_token(app_factory)
    started = utcnow() - timedelta(minutes=3)
    with app.app_context():
        with write():
            db.session.add(
                Run(
                    project_id=1,
                    trigger_source="token",
                    status="completed",
                    total=4,
                    passed=2,
                    failed=1,
                    skipped=1,
                    flaky=1,
                    quarantined=1,
                    error="gate failed",
                    branch="main",
                    commit_sha="a" * 40,
                    started_at=started,
                    finished_at=started + timedelta(seconds=90),
                    gate_result={"passed": False, "rules": []},
                    vitals_result={"passed": True},
                    integrations={"github": {"status": "posted"}},
                    phase=None,
                    options={"publicUrl": "https://ci.example.test/sentri"},
                )
            )
        run = db.session.get(Run, 1)
        expected = {"sentri": triggering.status_body(run), "ci": api_ci.ci_status(run)}
    for surface, url in (
        ("ci", "/api/v1/ci/runs/RUN-1"),
        ("sentri", "/api/v1/projects/PRJ-1/trigger/runs/RUN-1"),
    ):
        answer = client.get(url, headers=headers)
        assert answer.status_code == 200
        assert answer.get_json() == expected[surface]
        assert answer.get_json()["url"] == "https://ci.example.test/sentri/runs/RUN-1"


def test_a_token_revoked_by_another_process_is_refused_on_the_very_next_poll(app_factory):
    """Nothing about a token is cached: a revocation made through another process (here: the row deleted
    through a connection of its own, behind this app's back) holds at once."""
    from sqlalchemy import text

    app, client, headers, token_id = _project_with_token(app_factory, with_run=True)
    for url in ("/api/v1/ci/runs/RUN-1", "/api/v1/projects/PRJ-1/trigger/runs/RUN-1"):
        assert client.get(url, headers=headers).status_code == 200
    with app.app_context(), db.engine.connect() as other, other.begin():
        other.execute(text("DELETE FROM trigger_tokens WHERE id = :id"), {"id": token_id})
    for url in ("/api/v1/ci/runs/RUN-1", "/api/v1/projects/PRJ-1/trigger/runs/RUN-1"):
        answer = client.get(url, headers=headers)
        assert answer.status_code == 401 and answer.get_json() == {
            "error": "Invalid or revoked trigger token."
        }
