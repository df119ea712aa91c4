"""Outbound callbacks are bounded: an overall deadline (not per read), a bounded read of the answer, their
own bounded pool, and a shutdown that never waits past the grace for them.

The receivers here never finish answering (tests/support/sites.py `TricklingReceiver`); every wait is
bounded and no test asserts how long anything took, only that it ended and how.
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sentri import projects
from sentri.extensions import db
from sentri.models import Run
from sentri.outbound import post_json
from sentri.runtime import callbacks as notify
from sentri.runtime.callbacks import CallbackSender
from sentri.ssrf import Allowlist
from tests.support import FixtureSite, SentriProcess, StaticSite, TricklingReceiver, http_session, page_test

LOCAL = Allowlist.parse("127.0.0.1")
# A deadline short enough for a quick test but four trickle intervals long: each read alone succeeds.
DEADLINE = 2.0
PAYLOAD = {"runId": "RUN-1", "status": "completed"}


class Outcome:
    """Call `fn` on a daemon thread (a call that never ends must not hang the test run)."""

    def __init__(self, fn) -> None:
        self.result = self.error = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn) -> None:
        try:
            self.result = fn()
        except Exception as exc:
            self.error = exc

    def ended(self, timeout: float = 30.0) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()


# -- the overall deadline ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["head", "slow-body"])
def test_a_trickling_answer_ends_at_the_overall_deadline(mode):
    """One byte every 0.5 s is within any per-read timeout: only an overall deadline ends the call."""
    with TricklingReceiver(mode, interval=0.5) as receiver:
        call = Outcome(lambda: post_json(receiver.hook_url(), PAYLOAD, timeout=DEADLINE, allowlist=LOCAL))
        assert call.ended(), "the callback was still being answered after 30 s"
        assert call.result is None, f"a cut-short answer must not pass for one: {call.result!r}"
        assert isinstance(call.error, requests.Timeout), repr(call.error)
        assert re.fullmatch(r"127\.0\.0\.1 did not answer within 2 s", str(call.error)), str(call.error)
        assert receiver.requests == [PAYLOAD]
        assert receiver.wait_for(hangups=1), "Sentri never dropped the connection"


def test_an_endless_answer_is_read_only_a_few_kilobytes():
    with TricklingReceiver("endless-body") as receiver:
        call = Outcome(lambda: post_json(receiver.hook_url(), PAYLOAD, timeout=DEADLINE, allowlist=LOCAL))
        assert call.ended(), "the callback was still reading the answer after 30 s"
        assert call.error is None, repr(call.error)
        assert call.result.status_code == 200
        assert call.result.content == b"x" * 4096
        # The connection was dropped with the rest unread (the receiver had 64 MB more to send).
        assert receiver.wait_for(hangups=1), "Sentri read the whole answer"


def test_a_short_answer_is_read_whole_and_asked_unencoded():
    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.update(self.headers)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(202)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        response = post_json(f"http://127.0.0.1:{server.server_address[1]}/", PAYLOAD, allowlist=LOCAL)
    finally:
        server.shutdown()
        server.server_close()
    assert (response.status_code, response.content, response.text) == (202, b"ok", "ok")
    assert seen["Accept-Encoding"] == "identity"


# -- send_callback ------------------------------------------------------------------------------------------


@pytest.fixture
def finished_run(app_factory):
    """An app with one finished run; call it with the run's callback URL."""
    app = app_factory(SENTRI_CALLBACK_ALLOWLIST="127.0.0.1")

    def make(url: str) -> tuple:
        with app.app_context():
            project = projects.create("Shop", "http://127.0.0.1:9")
            run = Run(
                project_id=project.id,
                status="completed",
                trigger_source="token",
                callback_url=url,
                options={},
            )
            db.session.add(run)
            db.session.commit()
            return app, run.id

    return make


def test_send_callback_gives_up_on_a_trickling_receiver_and_says_so(finished_run, monkeypatch, caplog):
    monkeypatch.setattr(notify, "CALLBACK_TIMEOUT_SECONDS", DEADLINE)
    caplog.set_level(logging.INFO, logger="sentri.runtime.callbacks")
    with TricklingReceiver("head") as receiver:
        app, run_id = finished_run(receiver.hook_url())
        call = Outcome(lambda: notify.send_callback(app, run_id))
        assert call.ended(), "send_callback was still waiting for the receiver after 30 s"
        assert (call.result, call.error) == (False, None)
        assert [body["runId"] for body in receiver.requests] == [f"RUN-{run_id}"]
    assert f"callback for RUN-{run_id} to 127.0.0.1 failed: DeadlineExceeded" in caplog.messages


def test_a_callback_answered_with_a_redirect_is_not_delivered(finished_run, caplog):
    """The redirect is not followed (its target is not checked against the SSRF rules), so nobody got the
    run: a 3xx counts as rejected, as any answer outside 2xx."""
    caplog.set_level(logging.INFO, logger="sentri.runtime.callbacks")
    with StaticSite({}, redirects={"/hook": (302, "http://127.0.0.1:9/elsewhere")}) as receiver:
        app, run_id = finished_run(f"{receiver.url}/hook")
        assert notify.send_callback(app, run_id) is False
        assert [hit.path for hit in receiver.hits] == ["/hook"]  # asked once, never followed
    assert f"callback for RUN-{run_id} to 127.0.0.1 answered 302" in caplog.messages


# -- the callback pool --------------------------------------------------------------------------------------


@pytest.fixture
def stuck_sends(monkeypatch):
    """Make every callback block until the test releases it; record the runs whose callbacks started."""
    state = type("Stuck", (), {})()
    state.release, state.started, state.cond = threading.Event(), [], threading.Condition()

    def send(app, run_id):
        with state.cond:
            state.started.append(run_id)
            state.cond.notify_all()
        state.release.wait(30)
        return True

    monkeypatch.setattr(notify, "send_callback", send)
    yield state
    state.release.set()


def test_a_burst_of_callbacks_uses_bounded_threads_and_drops_beyond_the_cap(stuck_sends, caplog):
    before = set(threading.enumerate())
    sender = CallbackSender(object(), threads=2, max_pending=5)
    accepted = [sender.submit(run_id) for run_id in range(1, 21)]
    assert accepted == [True] * 5 + [False] * 15
    with stuck_sends.cond:
        assert stuck_sends.cond.wait_for(lambda: len(stuck_sends.started) == 2, timeout=10)
    started = set(threading.enumerate()) - before
    assert sorted(t.name for t in started) == ["sentri-callback-0", "sentri-callback-1"]
    assert all(t.daemon for t in started)
    assert "callback for RUN-6 dropped: 5 callbacks are already pending" in caplog.messages
    stuck_sends.release.set()
    assert sender.shutdown(10) == 0
    assert sorted(stuck_sends.started) == [1, 2, 3, 4, 5]


def test_shutdown_waits_at_most_the_grace_and_starts_nothing_more(stuck_sends):
    sender = CallbackSender(object(), threads=1, max_pending=5)
    for run_id in (1, 2, 3):
        assert sender.submit(run_id)
    call = Outcome(lambda: sender.shutdown(0.5))
    assert call.ended(), "shutdown waited for a callback that never ends"
    assert call.result == 3
    assert sender.submit(4) is False
    stuck_sends.release.set()
    for thread in sender._threads:  # it ends once the queue behind the running callback is passed over
        thread.join(10)
        assert not thread.is_alive()
    assert stuck_sends.started == [1]


# -- a real server: SIGTERM with a trickling callback in flight --------------------------------------------

GRACE = 3


@pytest.mark.browser
@pytest.mark.e2e
def test_sigterm_returns_within_the_grace_while_a_callback_trickles(tmp_path):
    env = {"SENTRI_SHUTDOWN_GRACE_SECONDS": str(GRACE)}
    with (
        FixtureSite() as site,
        TricklingReceiver("head") as receiver,
        SentriProcess(tmp_path / "instance", max_browsers=1, env=env) as sentri,
    ):
        project_id, token = sentri.new_project("Trickle", site.url, [page_test("trickle", site.url)])
        http = http_session()
        started = http.post(
            f"{sentri.url}/api/v1/projects/{project_id}/trigger",
            headers={"Authorization": f"Bearer {token}"},
            json={"callbackUrl": receiver.hook_url()},
            timeout=15,
        )
        assert started.status_code == 202, started.text
        run_id, status_url = started.json()["runId"], started.json()["statusUrl"]

        deadline = time.monotonic() + 60
        while (
            status := http.get(status_url, headers={"Authorization": f"Bearer {token}"}, timeout=15).json()
        )["status"] == "running":
            assert time.monotonic() < deadline, f"run still running after 60 s: {status}"
            time.sleep(0.2)
        assert status["status"] == "completed" and status["verdict"] == "passed", status
        assert receiver.wait_for(requests=1), "the callback never arrived"
        assert receiver.requests[0]["runId"] == run_id

        sentri.proc.send_signal(signal.SIGTERM)
        try:
            sentri.proc.wait(timeout=GRACE + 12)
        except subprocess.TimeoutExpired:
            pass
        assert sentri.proc.returncode is not None, "SIGTERM waited for the trickling callback"
        assert sentri.proc.returncode == 0
        out = sentri.stdout_path.read_text()
        assert "Sentri gave up on 1 callback(s) still being sent after the grace." in out, out
        assert "Sentri stopped." in out, out
