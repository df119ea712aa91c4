"""The Flask CLI: groups, and the value a script needs alone on the last line of stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sentri import tokens
from tests.support.shared import recorder_export

ROOT = Path(__file__).resolve().parent.parent


def last_line(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.e2e
def test_flask_help_lists_the_groups(tmp_path):
    env = {**os.environ, "SENTRI_INSTANCE_PATH": str(tmp_path), "FLASK_APP": "app"}
    out = subprocess.run(
        [sys.executable, "-m", "flask", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for group in ("users", "projects", "tests", "tokens", "db"):
        assert f"  {group} " in out


def test_users_create_with_and_without_password(runner):
    assert (
        last_line(
            runner.invoke(
                args=["users", "create", "ada@example.com", "--password", "long enough pw", "--admin"]
            )
        )
        == "USR-1"
    )
    prompted = runner.invoke(
        args=["users", "create", "bob@example.com"], input="another password\nanother password\n"
    )
    assert last_line(prompted) == "USR-2"
    duplicate = runner.invoke(args=["users", "create", "ADA@example.com", "--password", "long enough pw"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    short = runner.invoke(args=["users", "create", "c@example.com", "--password", "short"])
    assert short.exit_code != 0 and "at least 8" in short.output
    listing = runner.invoke(args=["users", "list"]).stdout
    assert "USR-1\tadmin\tada@example.com" in listing and "USR-2\tmember\tbob@example.com" in listing


def test_projects_and_tokens_round_trip(runner, app):
    assert (
        last_line(runner.invoke(args=["projects", "create", "Shop", "--base-url", "http://127.0.0.1:9"]))
        == "PRJ-1"
    )
    assert "PRJ-1\tShop" in runner.invoke(args=["projects", "list"]).stdout
    bad = runner.invoke(args=["projects", "create", "Shop", "--base-url", "nope"])
    assert bad.exit_code != 0 and "baseUrl" in bad.output

    plaintext = last_line(runner.invoke(args=["tokens", "create", "--project", "PRJ-1", "--name", "ci"]))
    assert tokens.is_well_formed(plaintext)
    listing = runner.invoke(args=["tokens", "list", "--project", "PRJ-1"]).stdout
    assert "TOK-1" in listing and plaintext[:13] in listing and plaintext not in listing
    assert last_line(runner.invoke(args=["tokens", "revoke", "TOK-1"])) == "TOK-1"
    assert "No tokens." in runner.invoke(args=["tokens", "list", "--project", "PRJ-1"]).stdout
    missing = runner.invoke(args=["tokens", "create", "--project", "PRJ-9"])
    assert missing.exit_code != 0 and "PRJ-9 not found" in missing.output


def test_tests_import_native_yaml_and_list(runner, tmp_path):
    runner.invoke(args=["projects", "create", "Shop", "--base-url", "http://127.0.0.1:9"])
    file = tmp_path / "tests.yaml"
    file.write_text(
        "- name: Home\n  tags: [smoke]\n  steps:\n    - goto: /\n    - expect_title: Shop\n"
        "- name: Cart\n  steps:\n    - goto: /cart\n"
    )
    assert (
        last_line(runner.invoke(args=["tests", "import", "--project", "PRJ-1", str(file), "--approve"]))
        == "2"
    )
    listing = runner.invoke(args=["tests", "list", "--project", "PRJ-1"]).stdout
    assert "TST-1\tapproved\tHome\tsmoke" in listing and "TST-2\tapproved\tCart" in listing


def test_a_bad_file_exits_non_zero_naming_test_and_step_and_stores_nothing(runner, tmp_path):
    runner.invoke(args=["projects", "create", "Shop", "--base-url", "http://127.0.0.1:9"])
    file = tmp_path / "tests.json"
    file.write_text(
        json.dumps(
            [
                {"name": "Good", "steps": [{"action": "goto", "url": "/"}]},
                {"name": "Broken", "steps": [{"action": "goto", "url": "/"}, {"action": "click"}]},
            ]
        )
    )
    result = runner.invoke(args=["tests", "import", "--project", "PRJ-1", str(file)])
    assert result.exit_code != 0
    assert "Broken" in result.output and "step 2" in result.output
    assert runner.invoke(args=["tests", "list", "--project", "PRJ-1"]).stdout.strip() == ""


def test_tests_import_a_chrome_recorder_export(runner):
    runner.invoke(args=["projects", "create", "Coffee", "--base-url", "https://coffee-cart.app"])
    export = recorder_export("coffee-cart-order-coffees.json")
    assert last_line(runner.invoke(args=["tests", "import", "--project", "PRJ-1", str(export)])) == "1"
    assert "\tdraft\t" in runner.invoke(args=["tests", "list", "--project", "PRJ-1"]).stdout

    benchmark = recorder_export("puppeteer-replay-benchmark.json")
    refused = runner.invoke(args=["tests", "import", "--project", "PRJ-1", str(benchmark)])
    assert refused.exit_code != 0 and "waitForExpression" in refused.output
    skipped = runner.invoke(
        args=["tests", "import", "--project", "PRJ-1", str(benchmark), "--skip-unsupported"]
    )
    assert last_line(skipped) == "1" and "waitForExpression" in skipped.stderr
