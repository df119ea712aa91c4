"""Chromium's sandbox: on wherever the process can have one, off (said once in the log) as root or where
no sandbox is usable; a real non-root launch really is sandboxed."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

from sentri import projects, testcases, tokens
from sentri.worker import browsers

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_FAILED = """BrowserType.launch: Target page, context or browser has been closed
Browser logs:
Chromium sandboxing failed!
================================
"""


def _warnings(caplog):
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("sentri.worker") and r.levelno == logging.WARNING
    ]


def test_as_root_chromium_runs_without_its_sandbox_and_says_so_once(caplog):
    sandbox = browsers.Sandbox(euid=lambda: 0)
    choice = browsers.ChromiumChoice("/usr/bin/chromium", "system")
    with caplog.at_level(logging.INFO, logger="sentri.worker"):
        options = [browsers.launch_options(choice, sandbox) for _ in range(3)]
    assert all(o["chromium_sandbox"] is False for o in options)
    assert "--no-sandbox" not in options[0]["args"]  # Playwright adds it when chromium_sandbox is False
    assert _warnings(caplog) == [
        "Chromium's sandbox is off: the server runs as root; run as a non-root user (the Docker image does) "
        "to turn it on"
    ]


def test_a_non_root_process_launches_chromium_with_its_sandbox_and_logs_nothing(caplog):
    sandbox = browsers.Sandbox(euid=lambda: 10001)
    with caplog.at_level(logging.INFO, logger="sentri.worker"):
        options = browsers.launch_options(browsers.ChromiumChoice(None, "playwright"), sandbox)
    assert options["chromium_sandbox"] is True and "executable_path" not in options
    assert _warnings(caplog) == []


def test_only_a_sandbox_failure_turns_the_sandbox_off_and_it_is_said_once(caplog):
    sandbox = browsers.Sandbox(euid=lambda: 10001)
    assert sandbox.give_up("BrowserType.launch: Executable doesn't exist at /nope") is False
    assert sandbox.off_reason() is None
    with caplog.at_level(logging.INFO, logger="sentri.worker"):
        assert sandbox.give_up(SANDBOX_FAILED) is True
        assert sandbox.give_up(SANDBOX_FAILED) is True  # a second worker failing the same way retries too
        for _ in range(3):
            assert (
                browsers.launch_options(browsers.ChromiumChoice(None, "playwright"), sandbox)[
                    "chromium_sandbox"
                ]
                is False
            )
    [warning] = _warnings(caplog)
    assert warning.startswith(
        "Chromium's sandbox is off: a sandboxed launch failed ('Chromium sandboxing failed!')"
    )


@pytest.mark.browser
@pytest.mark.skipif(os.geteuid() != 0, reason="as non-root a sandboxed launch is expected to work")
def test_a_sandboxed_launch_that_fails_falls_back_once_and_the_run_passes(
    app, client, site, caplog, monkeypatch
):
    # Chromium refuses a sandboxed start as root exactly as it does where no sandbox is usable: a
    # Sandbox that believes it is not root tries, fails for real, and must fall back.
    monkeypatch.setattr(browsers, "SANDBOX", browsers.Sandbox(euid=lambda: 10001))
    caplog.set_level(logging.INFO, logger="sentri.worker")
    with app.app_context():
        project = projects.create("Sandbox", site)
        test = testcases.create(
            project, {"name": "ok", "steps": [{"goto": "/ok"}, {"expect_text": {"css": "h1"}, "text": "OK"}]}
        )
        testcases.review(test, "approve")
        _, token = tokens.create(project)
        project_id = project.public_id
    response = client.post(
        f"/api/v1/projects/{project_id}/trigger",
        json={"wait": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.get_json()
    warnings = [w for w in _warnings(caplog) if "sandbox" in w]
    assert len(warnings) == 1 and "a sandboxed launch failed" in warnings[0]


PROBE = r"""
import json, os, sys
from playwright.sync_api import sync_playwright
from sentri.worker import browsers


def descendants():
    parents = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        parents[int(pid)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = set(), [os.getpid()]
    while todo:
        parent = todo.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in found]
        found.update(children)
        todo.extend(children)
    return found


def renderer_seccomp():
    modes = []
    for pid in descendants():
        try:
            if b"--type=renderer" in open(f"/proc/{pid}/cmdline", "rb").read():
                modes.append(int(open(f"/proc/{pid}/status").read().split("Seccomp:")[1].split()[0]))
        except OSError:
            pass
    return modes


options = browsers.launch_options(browsers.find_chromium(os.environ.get("SENTRI_CHROMIUM_PATH") or None))
with sync_playwright() as pw:
    browser = pw.chromium.launch(**options)
    page = browser.new_page()
    page.set_content("<h1>sandboxed</h1>")
    print(json.dumps({"euid": os.geteuid(), "sandbox": options["chromium_sandbox"],
                      "text": page.inner_text("h1"), "seccomp": renderer_seccomp()}))
    browser.close()
"""


@pytest.mark.browser
def test_a_non_root_launch_really_runs_chromium_sandboxed(tmp_path):
    home = Path(tempfile.mkdtemp(prefix="sentri-sandbox-"))
    try:
        (home / "probe.py").write_text(PROBE)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "PYTHONPATH": os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]]),
        }
        for name in ("SENTRI_CHROMIUM_PATH", "PLAYWRIGHT_BROWSERS_PATH"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        command = [sys.executable, str(home / "probe.py")]
        if os.geteuid() == 0:
            # The test's own Python may sit where nobody can read it (/root): the system's of the same version.
            python = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
            if not (shutil.which("runuser") and os.access(python, os.X_OK)):
                pytest.skip(f"needs runuser and {python} to launch Chromium as a non-root user")
            shutil.chown(home, "nobody")
            command = ["runuser", "-u", "nobody", "--", python, str(home / "probe.py")]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=home)
        assert done.returncode == 0, done.stderr
        probe = json.loads(done.stdout.strip().splitlines()[-1])
        assert probe["euid"] != 0 and probe["sandbox"] is True and probe["text"] == "sandboxed"
        # Seccomp mode 2 (a filter) on every renderer: the sandbox is really on, not only asked for.
        assert probe["seccomp"] and set(probe["seccomp"]) == {2}, probe
        assert "sandbox is off" not in done.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)
