"""Run Sentri as a real process (`python app.py`) on 127.0.0.1 and drive its CLI.

    with SentriProcess(tmp_path / "instance") as sentri:
        project = sentri.cli("projects", "create", "Shop", "--base-url", site.url)   # "PRJ-1"
        token = sentri.cli("tokens", "create", "--project", project, "--name", "ci")
        jwt = sentri.login()

The server's stdout/stderr go to files next to the instance folder (`logs/`); a start that fails
raises with their tail. `kill()` is a crash (SIGKILL to the whole process group, browsers included),
`stop()` a graceful SIGTERM, `restart()` a new process on the same instance folder and port.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
SECRET_KEY = "e2e-secret-key-" + "x" * 40  # 40+ characters, fixed so restarts keep JWTs valid

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


class CLIError(RuntimeError):
    """A CLI command exited non-zero; the message has its exit code and output."""


def free_port() -> int:
    """Ask the OS for a free port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_session() -> requests.Session:
    """A requests session that ignores proxy settings from the environment (we only talk to 127.0.0.1)."""
    session = requests.Session()
    session.trust_env = False
    return session


def _python() -> str:
    return str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


class SentriProcess:
    """One Sentri server process on a given instance folder; a context manager that always cleans up."""

    def __init__(
        self,
        instance_path: str | Path,
        *,
        port: int | None = None,
        max_browsers: int | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.instance_path = Path(instance_path)
        self.instance_path.mkdir(parents=True, exist_ok=True)
        self.log_dir = self.instance_path.parent / f"{self.instance_path.name}-logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.max_browsers = max_browsers
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.stdout_path: Path | None = None
        self.stderr_path: Path | None = None
        self.admin_email: str | None = None
        self.admin_password: str | None = None
        self._jwt: str | None = None
        self.http = http_session()

    # -- environment ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The server's (and the CLI's) environment: ours, without any SENTRI_* or proxy variable inherited."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRI_") and k not in _PROXY_VARS}
        env.update(
            SENTRI_INSTANCE_PATH=str(self.instance_path),
            SENTRI_HOST="127.0.0.1",
            SENTRI_PORT=str(self.port),
            SENTRI_SECRET_KEY=SECRET_KEY,
            SENTRI_PASSWORD_HASH="pbkdf2:sha256:1",  # as conftest.TEST_CONFIG: scrypt is for real passwords
            SENTRI_DEMO="0",
            SENTRI_CALLBACK_ALLOWLIST="127.0.0.1",
            SENTRI_GITHUB_API_URL="http://127.0.0.1:9",  # never api.github.com; tests pass a fake's URL
            SENTRI_TRIGGER_RATE_LIMIT="1000 per hour",
            # Tests poll every ~100 ms; the per-token status limit (100 per minute) has tests of its own.
            SENTRI_API_RATE_LIMIT="100000 per minute",
            PYTHONUNBUFFERED="1",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        if self.max_browsers is not None:
            env["SENTRI_MAX_BROWSERS"] = str(self.max_browsers)
        env.update(self.extra_env)
        return env

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> SentriProcess:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("already running")
        self.starts += 1
        self.stdout_path = self.log_dir / f"server-{self.starts}.stdout.log"
        self.stderr_path = self.log_dir / f"server-{self.starts}.stderr.log"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [_python(), "app.py"],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: kill() takes its browsers down too
            )
        try:
            self.wait_ready(self.startup_timeout)
        except BaseException:
            self._terminate_group()
            raise
        self._parse_credentials()
        return self

    def wait_ready(self, timeout: float) -> None:
        """Poll /healthz until it answers 200 {"status": "ok"} (at most `timeout` s)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(
                    f"Sentri exited with {self.proc.returncode if self.proc else '?'} before it was ready.\n"
                    f"stdout:\n{_tail(self.stdout_path)}\nstderr:\n{_tail(self.stderr_path)}"
                )
            try:
                response = self.http.get(f"{self.url}/healthz", timeout=2)
                if response.status_code == 200 and response.json().get("status") == "ok":
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except (requests.RequestException, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise TimeoutError(
            f"Sentri was not ready within {timeout}s (last: {last}).\n"
            f"stdout:\n{_tail(self.stdout_path)}\nstderr:\n{_tail(self.stderr_path)}"
        )

    def _parse_credentials(self) -> None:
        """The first start prints `email: ...` and `password: ...`; later starts print nothing."""
        text = self.stdout_path.read_text(errors="replace") if self.stdout_path else ""
        email = re.search(r"^\s*email:\s*(\S+)\s*$", text, re.MULTILINE)
        password = re.search(r"^\s*password:\s*(\S+)\s*$", text, re.MULTILINE)
        if email and password:
            self.admin_email, self.admin_password = email.group(1), password.group(1)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (graceful), wait at most `timeout` s, then SIGKILL whatever is left of the group."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self._terminate_group()
        return self.proc.returncode

    def signal(
        self, signum: int, *, group: bool = False, times: int = 1, timeout: float = 60.0
    ) -> int | None:
        """Send `signum` to the server (or its whole process group, as Ctrl+C or a supervisor does) `times`
        times, wait at most `timeout` s for it to exit, then SIGKILL what is left; return its exit code."""
        assert self.proc is not None
        for _ in range(times):
            with contextlib.suppress(ProcessLookupError):
                if group:
                    os.killpg(self.proc.pid, signum)
                else:
                    self.proc.send_signal(signum)
            time.sleep(0.05)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self._terminate_group()
        return self.proc.returncode

    def kill(self) -> None:
        """Crash: SIGKILL the server and everything it started (its process group), at once."""
        self._terminate_group()

    def _terminate_group(self) -> None:
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the group id is the server's own pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def restart(self, *, kill: bool = False) -> SentriProcess:
        """Stop (or, with kill=True, crash) the server and start a new one on the same folder and port."""
        if self.running:
            if kill:
                self.kill()
            else:
                self.stop()
        return self.start()

    def __enter__(self) -> SentriProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.http.close()

    # -- CLI and API helpers ------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120.0) -> str:
        """Run `flask --app app ARGS...` with the server's environment; return the last stdout line."""
        command = [_python(), "-m", "flask", "--app", "app", *map(str, args)]
        done = subprocess.run(
            command,
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise CLIError(
                f"`flask {' '.join(map(str, args))}` exited {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        lines = done.stdout.rstrip("\n").splitlines()
        if not lines:
            raise CLIError(f"`flask {' '.join(map(str, args))}` printed nothing\nstderr:\n{done.stderr}")
        return lines[-1].strip()

    def login(self, email: str | None = None, password: str | None = None) -> str:
        """Return a JWT for the given user (default: the admin printed on first start)."""
        default = email is None and password is None
        if default and self._jwt:
            return self._jwt
        email = email or self.admin_email
        password = password or self.admin_password
        if not email or not password:
            raise RuntimeError("no admin credentials were printed on first start")
        response = self.http.post(
            f"{self.url}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10
        )
        if response.status_code != 200:
            raise RuntimeError(f"login failed: {response.status_code} {response.text[:500]}")
        token = response.json()["token"]
        if default:
            self._jwt = token
        return token

    def user_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.login()}"}

    def api(
        self, method: str, path: str, body: dict | list | None = None, *, expect: int = 200
    ) -> dict | list:
        """Call the JSON API as the first-start admin; return the body (RuntimeError on another status)."""
        response = self.http.request(
            method, f"{self.url}/api/v1{path}", json=body, headers=self.user_headers(), timeout=30
        )
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    def new_project(
        self, name: str, base_url: str, tests: list[dict] = (), *, token_label: str = "ci"
    ) -> tuple[str, str]:
        """Create a project with these tests, approved, and a trigger token, over the API (what a `flask`
        command does, without a process start per call; test_e2e_runs does it once with the CLI itself).
        Return the project's id and the token."""
        project_id = self.api("POST", "/projects", {"name": name, "baseUrl": base_url}, expect=201)["id"]
        for test in tests:
            test_id = self.api("POST", f"/projects/{project_id}/tests", test, expect=201)["id"]
            self.api("POST", f"/projects/{project_id}/tests/{test_id}/approve")
        token = self.api(
            "POST", f"/projects/{project_id}/trigger-tokens", {"label": token_label}, expect=201
        )["token"]
        return project_id, token

    def run_to_end(
        self,
        project_id: str,
        token: str,
        body: dict | None = None,
        *,
        timeout: float = 300.0,
        poll: float = 0.05,
    ) -> dict:
        """Trigger a run with a project token and poll its status until it ends; return the last status body
        (RuntimeError when the trigger is refused or the run outlasts `timeout`)."""
        headers = {"Authorization": f"Bearer {token}"}
        response = self.http.post(
            f"{self.url}/api/v1/projects/{project_id}/trigger", headers=headers, json=body or {}, timeout=30
        )
        if response.status_code != 202:
            raise RuntimeError(f"trigger answered {response.status_code}: {response.text[:300]}")
        deadline = time.monotonic() + timeout
        while (status := self.http.get(response.json()["statusUrl"], headers=headers, timeout=30).json())[
            "status"
        ] == "running":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{status['runId']} did not end within {timeout:g} s")
            time.sleep(poll)
        return status
