"""Configuration order: defaults, instance/config.py, SENTRI_* environment, test config; the secret key."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from sentri import create_app
from sentri.config import ConfigError
from sentri.settings import settings


def test_layers_apply_in_order(tmp_path, monkeypatch):
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "config.py").write_text(
        "SENTRI_PORT = 7001\nSENTRI_MAX_BROWSERS = 3\nSENTRI_PUBLIC_URL = 'http://a'\n"
    )
    monkeypatch.setenv("SENTRI_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("SENTRI_PORT", "7002")
    monkeypatch.setenv("SENTRI_PUBLIC_URL", "https://sentri.example.com")
    app = create_app({"SENTRI_PUBLIC_URL": "https://override.example.com"})
    assert app.instance_path == str(instance)
    assert settings(app).max_browsers == 3  # instance file over defaults
    assert settings(app).port == 7002  # environment over instance file
    assert settings(app).public_url == "https://override.example.com"  # test config last
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'sentri.db'}"


def test_defaults(tmp_path, monkeypatch):
    for name in ("SENTRI_PORT", "SENTRI_HOST", "SENTRI_TRIGGER_RATE_LIMIT", "SENTRI_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({"SENTRI_INSTANCE_PATH": str(tmp_path)})
    assert (settings(app).host, settings(app).port) == ("127.0.0.1", 8000)
    assert settings(app).trigger_rate_limit == "20 per hour"
    assert settings(app).max_tokens_per_project == 10
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SENTRI_SECRET_KEY", raising=False)
    first = create_app({"SENTRI_INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"SENTRI_INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    assert first == second and len(first) >= 48
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    given = "given-by-the-operator-" + "k" * 16
    monkeypatch.setenv("SENTRI_SECRET_KEY", given)
    assert create_app({"SENTRI_INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"] == given


def test_a_malformed_environment_value_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTRI_PORT", "eighty")
    with pytest.raises(RuntimeError, match="SENTRI_PORT='eighty'"):
        create_app({"SENTRI_INSTANCE_PATH": str(tmp_path)})


def test_the_browser_servers_are_checked_every_5_s_unless_set_to_at_least_1(tmp_path, monkeypatch):
    assert settings(create_app({"SENTRI_INSTANCE_PATH": str(tmp_path)})).browser_probe_seconds == 5
    monkeypatch.setenv("SENTRI_BROWSER_PROBE_SECONDS", "0")
    with pytest.raises(RuntimeError, match="SENTRI_BROWSER_PROBE_SECONDS must be .* 1 or more"):
        create_app({"SENTRI_INSTANCE_PATH": str(tmp_path)})


def test_postgresql_urls_use_psycopg(tmp_path):
    app = create_app(
        {"SENTRI_INSTANCE_PATH": str(tmp_path), "SENTRI_DATABASE_URL": "postgresql://u:p@127.0.0.1/db"}
    )
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


@pytest.mark.parametrize(
    ("public_url", "hsts"),
    [("https://sentri.example.com", True), ("http://sentri.example.com", False), (None, False)],
)
def test_hsts_is_sent_on_every_response_only_when_the_public_url_is_https(app_factory, public_url, hsts):
    client = app_factory(SENTRI_PUBLIC_URL=public_url).test_client()
    responses = [
        client.get("/login"),
        client.get("/healthz"),
        client.get("/api/v1/auth/me"),
        client.get("/no-such-page"),
        client.post("/api/v1/auth/login", json={"email": "a@b.c", "password": "x"}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 401, 404, 401]
    for response in responses:
        if hsts:
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        else:
            assert "Strict-Transport-Security" not in response.headers


def test_a_secret_key_under_32_bytes_is_refused_naming_the_setting(tmp_path, monkeypatch):
    from sentri.config import SecretKeyTooShort

    monkeypatch.setenv("SENTRI_SECRET_KEY", "k" * 31)
    with pytest.raises(SecretKeyTooShort, match="SENTRI_SECRET_KEY is 31 bytes; it must be at least 32"):
        create_app({"SENTRI_INSTANCE_PATH": str(tmp_path)})
    monkeypatch.setenv("SENTRI_SECRET_KEY", "k" * 32)
    assert create_app({"SENTRI_INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"] == "k" * 32
    # A hand-edited key file is held to the same rule, and named.
    monkeypatch.delenv("SENTRI_SECRET_KEY")
    (tmp_path / "secret_key").write_text("short\n")
    with pytest.raises(SecretKeyTooShort, match="secret_key is 5 bytes"):
        create_app({"SENTRI_INSTANCE_PATH": str(tmp_path)})


@pytest.mark.e2e
@pytest.mark.parametrize("command", [["app.py"], ["-m", "flask", "--app", "app", "users", "list"]])
def test_starting_with_a_short_secret_key_is_one_line_and_a_non_zero_exit(tmp_path, command):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "SENTRI_SECRET_KEY": "too-short", "SENTRI_INSTANCE_PATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, *command], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "sentri: SENTRI_SECRET_KEY is 9 bytes; it must be at least 32" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_malloc_arenas_are_capped_unless_the_environment_says_otherwise(monkeypatch):
    """python app.py caps glibc's arenas before any thread starts (bench/memory.py: flat RSS); an
    operator's own MALLOC_ARENA_MAX wins."""
    import platform

    from sentri.server import limit_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert limit_malloc_arenas() is (platform.libc_ver()[0] == "glibc")


def test_every_setting_is_documented_and_the_page_is_up_to_date():
    from sentri import config_docs

    missing = [name for name in config_docs.documented() if not config_docs.DOCS.get(name, "").strip()]
    assert not missing, f"settings without a sentence (sentri/settings.py): {missing}"
    # Every variable the code reads on its own is on the page too (AWS_*: boto3's, documented by AWS).
    root = Path(__file__).resolve().parents[1] / "sentri"
    read = {
        name
        for path in root.rglob("*.py")
        for name in re.findall(r'environ(?:\.get\(|\[)"([A-Z_]+)"', path.read_text())
    }
    assert read - {"AWS_ENDPOINT_URL"} <= set(config_docs.DOCS), read - set(config_docs.DOCS)
    page = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
    assert page.read_text() == config_docs.markdown(), (
        "run: python -m sentri.config_docs > docs/configuration.md"
    )


def test_the_code_reads_settings_typed_and_parsed_once(tmp_path, monkeypatch):
    """One typed object: text from the environment and the instance file arrives as the field's type."""
    (tmp_path / "config.py").write_text('SENTRI_LEASE_SECONDS = "20"\n')
    monkeypatch.setenv("SENTRI_METRICS", "yes")
    monkeypatch.setenv("SENTRI_BROWSER_BLOCKED_NETWORKS", "127.0.0.2/32")
    monkeypatch.setenv("SENTRI_CALLBACK_ALLOWLIST", "ci.internal")
    app = create_app({"SENTRI_INSTANCE_PATH": str(tmp_path), "SENTRI_SECRET_KEY": "k" * 40})
    made = settings(app)
    assert (made.lease_seconds, made.metrics, made.port) == (20, True, 8000)
    assert [str(network) for network in made.blocked_networks] == ["127.0.0.2/32"]
    assert made.allowlist.allows_host("ci.internal")
    with pytest.raises(AttributeError):
        made.port = 1  # type: ignore[misc]  # frozen: what start parsed is what every thread reads


def test_the_settings_repr_shows_no_credential(tmp_path):
    app = create_app(
        {
            "SENTRI_INSTANCE_PATH": str(tmp_path),
            "SENTRI_SECRET_KEY": "s3cret" * 8,
            "SENTRI_SMTP_URL": "smtp://u:pw-s3cret@127.0.0.1:2525",
            "SENTRI_METRICS_TOKEN": "t0ken-s3cret",
            "SENTRI_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "SENTRI_BROWSER_SERVERS": "ws://u:s3cret@127.0.0.1:9#2",
        }
    )
    shown = repr(settings(app))
    assert "s3cret" not in shown and "lease_seconds=15" in shown


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SENTRI_TRIGGER_RATE_LIMIT", "lots", "SENTRI_TRIGGER_RATE_LIMIT='lots' is not a rate limit"),
        (
            "SENTRI_API_RATE_LIMIT",
            "100 per fortnight",
            "SENTRI_API_RATE_LIMIT='100 per fortnight' is not a rate limit",
        ),
        (
            "SENTRI_CALLBACK_ALLOWLIST",
            "ci.internal,1.2.3",
            "SENTRI_CALLBACK_ALLOWLIST has invalid entries: 1.2.3",
        ),
    ],
)
def test_a_setting_read_only_when_used_is_checked_at_start(tmp_path, name, value, says):
    """A bad rate limit or allowlist once started fine and failed the first request it limited."""
    with pytest.raises(ConfigError, match=re.escape(says)):
        create_app({"SENTRI_INSTANCE_PATH": str(tmp_path), "SENTRI_SECRET_KEY": "k" * 40, name: value})
