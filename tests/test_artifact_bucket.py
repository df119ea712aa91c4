"""Artifacts in an S3-compatible bucket (SENTRI_ARTIFACT_URL=s3://bucket/prefix): a real S3 server on loopback
(moto, tests/support/s3.py), real runs, real Sentri processes. What one replica records another serves from
the bucket; pruning removes objects; keys hold run ids, never what a test is called or visits; a bad setting
stops the server at start with one line."""

from __future__ import annotations

import io
import os
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from PIL import Image

from sentri import artifacts, projects, testcases, tokens
from sentri.config import ConfigError
from sentri.database import write
from sentri.extensions import db
from sentri.models import Run, utcnow
from sentri.stores import artifact_store
from sentri.visual import store
from tests.conftest import _make_user
from tests.support import FixtureSite, SentriProcess, failing_test, free_port, http_session
from tests.support.runs import recorded_run
from tests.support.s3 import S3Server
from tests.test_multiprocess import shared_database  # noqa: F401 - a fixture: a PostgreSQL database of its own

PNG = b"\x89PNG\r\n\x1a\n"
PREFIX = "sentri/ci"
# A key is a run id, a position and an attempt, or a picture's hash: nothing a test is called, visits or types.
KEY = re.compile(
    r"^sentri/ci/(artifacts/RUN-[0-9]+/[0-9]{4}-attempt[0-9]+\.(png|zip)|visual/[0-9a-f]{2}/[0-9a-f]{64}\.png)$"
)
SECRET = "hunter2-in-the-url"


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        yield server


@pytest.fixture
def bucket(s3, monkeypatch):
    """A new bucket, and this process's environment pointing boto3 at the S3 server (as a deployment's would)."""
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    return s3.new_bucket()


def _h(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# -- the setting ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("http://artifacts/sentri", "use s3://bucket or s3://bucket/prefix"),
        ("s3://Not_A_Bucket/x", "'Not_A_Bucket' is not an S3 bucket name"),
        ("s3://AKIAEXAMPLE:wJalrXUtnFEMI@artifacts/x", "credentials do not belong in the URL"),
        (
            "s3://AKIAEXAMPLE:wJalrXUtnFEMI/x",
            "names a bucket, not a server: set the endpoint in AWS_ENDPOINT_URL",
        ),
        ("s3://artifacts/../other", "no '.' or '..' part"),
        ("s3://artifacts/x?region=eu-west-1", "no query or fragment"),
    ],
)
def test_a_bad_artifact_url_stops_the_app_with_one_line_naming_the_setting(app_factory, value, says):
    with pytest.raises(ConfigError) as refused:
        app_factory(SENTRI_ARTIFACT_URL=value)
    message = str(refused.value)
    assert message.startswith("SENTRI_ARTIFACT_URL is not valid: ") and says in message, message
    assert "\n" not in message and "wJalrXUtnFEMI" not in message and "AKIAEXAMPLE" not in message


def test_an_endpoint_boto3_cannot_use_stops_the_app_naming_the_setting(app_factory, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "minio:9000")  # no scheme
    with pytest.raises(
        ConfigError, match=r"^SENTRI_ARTIFACT_URL=s3://artifacts/x: Invalid endpoint: minio:9000$"
    ):
        app_factory(SENTRI_ARTIFACT_URL="s3://artifacts/x")


@pytest.mark.e2e
def test_a_bad_or_missing_bucket_stops_the_real_server_at_start_with_one_line(tmp_path, s3):
    for name, value, line in [
        (
            "bad",
            "ftp://artifacts",
            "sentri: SENTRI_ARTIFACT_URL is not valid: use s3://bucket or s3://bucket/prefix",
        ),
        (
            "missing",
            "s3://no-such-bucket/x",
            "sentri: SENTRI_ARTIFACT_URL=s3://no-such-bucket/x: the bucket does not exist",
        ),
    ]:
        server = SentriProcess(
            tmp_path / name / "instance", env={**s3.env, "SENTRI_ARTIFACT_URL": value}, startup_timeout=30
        )
        with pytest.raises(RuntimeError, match="exited with 1 before it was ready"):
            server.start()
        said = [text for text in server.stderr_path.read_text().splitlines() if text.strip()]
        assert said == [said[0]] and said[0].startswith(line), said


# -- one process: the worker uploads, the routes stream, pruning deletes -------------------------------------


def _project(app, base_url: str, steps: list[dict], name: str):
    with app.app_context():
        project = projects.create("Bucket", base_url)
        testcases.review(testcases.create(project, {"name": name, "steps": steps}), "approve")
        return project.public_id, tokens.create(project)[1]


@pytest.mark.browser
def test_a_failure_goes_to_the_bucket_is_served_from_it_and_pruned_from_it(
    app_factory, bucket, s3, site, monkeypatch
):
    app = app_factory(SENTRI_ARTIFACT_URL=f"s3://{bucket}/{PREFIX}/")
    name = f"checkout with {SECRET}"
    steps = [
        {"goto": f"/fail?token={SECRET}"},
        {"expect_screenshot": "home"},
        {"expect_text": {"css": "h1"}, "text": "OK", "timeout": 300},
    ]
    project_id, token = _project(app, site, steps, name)
    client = app.test_client()
    run = client.post(
        f"/api/v1/projects/{project_id}/trigger", json={"wait": True}, headers=_h(token)
    ).get_json()
    admin = _make_user(app, "admin@example.com", "admin")[1]
    (result,) = client.get(f"/api/v1/runs/{run['runId']}", headers=admin).get_json()["results"]
    assert result["status"] == "failed" and result["screenshotUrl"] and result["traceUrl"], result

    keys = s3.keys(bucket)
    assert [k for k in keys if k.endswith(".png") and "/artifacts/" in k] and [
        k for k in keys if k.endswith(".zip")
    ]
    assert [k for k in keys if "/visual/" in k], keys  # the screenshot step's new picture
    assert all(KEY.match(k) for k in keys), keys
    for key in keys:
        head = s3.client().head_object(Bucket=bucket, Key=key)
        assert head["Metadata"] == {} and head["ContentType"] in ("image/png", "application/zip")
    instance = Path(app.instance_path)
    assert not [
        p for folder in ("artifacts", "visual") for p in (instance / folder).rglob("*") if p.is_file()
    ]

    shot = client.get(result["screenshotUrl"], headers=_h(token))
    assert shot.status_code == 200 and shot.mimetype == "image/png" and shot.data.startswith(PNG)
    trace = client.get(result["traceUrl"], headers=_h(token))
    assert trace.status_code == 200 and trace.mimetype == "application/zip"
    assert "attachment" in trace.headers["Content-Disposition"]
    assert "trace.trace" in zipfile.ZipFile(io.BytesIO(trace.data)).namelist()
    (step,) = result["snapshots"]
    picture = step["actualUrl"].rsplit("/", 1)[1].removesuffix(".png")
    image = client.get(step["actualUrl"], headers=_h(token))
    assert image.status_code == 200 and image.data.startswith(PNG)
    assert (
        client.get(result["screenshotUrl"]).status_code == 401
    )  # the bucket changes nothing of who may read

    # Objects no row keeps: a picture nothing shows and a folder of a run that is gone (the grace made nil).
    with app.app_context():
        orphan = store.put(artifact_store(app), _png_of_height(3))
        artifact_store(app).put_bytes("artifacts/RUN-999/0001-attempt1.png", PNG, "image/png")
        with write():
            db.session.get(Run, int(run["runId"][4:])).finished_at = utcnow() - timedelta(days=31)
    monkeypatch.setattr(artifacts, "ORPHAN_GRACE_SECONDS", -60)
    assert artifacts.prune(app) == 4  # the screenshot, the trace, RUN-999's file and the orphan picture
    assert s3.keys(bucket, f"{PREFIX}/artifacts/") == []
    assert (
        s3.keys(bucket, f"{PREFIX}/visual/")
        == [f"{PREFIX}/{store.key_of(picture)}"]
        != [store.key_of(orphan)]
    )
    gone = client.get(result["screenshotUrl"], headers=_h(token))
    assert gone.status_code == 404 and "pruned" in gone.get_json()["error"]


def _png_of_height(height: int) -> bytes:
    data = io.BytesIO()
    Image.new("L", (1, height)).save(data, format="PNG")
    return data.getvalue()


def test_a_bucket_that_does_not_answer_is_a_503_in_the_one_error_shape(app_factory, bucket, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    app = app_factory(SENTRI_ARTIFACT_URL=f"s3://{bucket}/{PREFIX}")
    with app.app_context():
        project = projects.create("Down", "http://127.0.0.1:9")
        _, token = tokens.create(project)
        run = recorded_run(project, [{"status": "failed", "screenshot": "artifacts/RUN-1/0001-attempt1.png"}])
        public_id = run.public_id
    response = app.test_client().get(f"/api/v1/runs/{public_id}/results/1/screenshot.png", headers=_h(token))
    assert response.status_code == 503
    assert response.get_json() == {"error": "The artifact store did not answer; try again shortly."}


# -- two processes on one PostgreSQL and one bucket ----------------------------------------------------------

PG_URL = os.environ.get("SENTRI_TEST_DATABASE_URL")


@pytest.mark.browser
@pytest.mark.e2e
@pytest.mark.skipif(not PG_URL, reason="needs SENTRI_TEST_DATABASE_URL (PostgreSQL)")
def test_what_one_replica_recorded_the_other_serves_from_the_bucket_and_pruning_empties_it(
    tmp_path,
    shared_database,  # noqa: F811 - the fixture imported above
    s3,
):
    bucket = s3.new_bucket()
    env = {**s3.env, "SENTRI_DATABASE_URL": shared_database, "SENTRI_ARTIFACT_URL": f"s3://{bucket}/{PREFIX}"}
    http = http_session()
    with FixtureSite() as site, SentriProcess(tmp_path / "a" / "instance", max_browsers=1, env=env) as a:
        project_id, token = a.new_project("Shared", site.url, [failing_test(site.url, timeout_ms=500)])
        final = a.run_to_end(project_id, token)
        assert (final["status"], final["failed"]) == ("completed", 1), final
        (result,) = a.api("GET", f"/runs/{final['runId']}")["results"]
        assert result["executedBy"].split(":")[1] == str(a.proc.pid)
        recorded = http.get(f"{a.url}{result['screenshotUrl']}", headers=_h(token), timeout=15).content

        b = SentriProcess(tmp_path / "b" / "instance", max_browsers=1, env=env)
        b.admin_email, b.admin_password = a.admin_email, a.admin_password  # one database, one admin
        with b:
            shot = http.get(f"{b.url}{result['screenshotUrl']}", headers=_h(token), timeout=15)
            assert shot.status_code == 200 and shot.content == recorded and recorded.startswith(PNG)
            trace = http.get(f"{b.url}{result['traceUrl']}", headers=_h(token), timeout=15)
            assert trace.status_code == 200 and zipfile.is_zipfile(io.BytesIO(trace.content))
            for server in (a, b):  # neither instance folder holds an artifact: the bucket does
                assert not [p for p in (server.instance_path / "artifacts").rglob("*") if p.is_file()]
            assert len(s3.keys(bucket, f"{PREFIX}/artifacts/")) == 2

            # The run ends past the retention; B prunes at its next start.
            with psycopg.connect(shared_database) as conn:  # behind the servers' backs, as time passing would
                conn.execute(
                    "UPDATE runs SET finished_at = finished_at - interval '31 days' WHERE id = %s",
                    (int(final["runId"][4:]),),
                )
            b.restart()
            assert s3.keys(bucket, f"{PREFIX}/artifacts/") == []
            gone = http.get(f"{b.url}{result['screenshotUrl']}", headers=_h(token), timeout=15)
            assert gone.status_code == 404 and "pruned" in gone.json()["error"]
    http.close()
