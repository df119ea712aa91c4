"""Find and launch a Chromium: SENTRI_CHROMIUM_PATH, else Playwright's own, else the system's."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Without the networking flags a system Chromium keeps calling home, and where the network is closed
# those calls fail many at a time; --no-sandbox because the server often runs as root in a container.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
SYSTEM_CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


class BrowserUnavailable(RuntimeError):
    """No Chromium could be found; the message says what to install."""


@dataclass(frozen=True)
class ChromiumChoice:
    executable: str | None  # None: Playwright's managed browser (it knows its own path)
    source: str  # "configured" | "playwright" | "system"

    def describe(self) -> str:
        return f"{self.source} Chromium at {self.executable or playwright_chromium_path()}"


ENGINES = ("chromium", "firefox", "webkit")


@lru_cache(maxsize=1)
def managed_browser_paths() -> dict[str, str | None]:
    """Return the executable of each of Playwright's own browsers, None where it is not installed."""
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            paths = {name: getattr(pw, name).executable_path for name in ENGINES}
    except Exception:  # the driver itself is missing or broken: there is no managed browser
        return dict.fromkeys(ENGINES)
    return {name: path if path and Path(path).exists() else None for name, path in paths.items()}


def playwright_chromium_path() -> str | None:
    """Return the path of Playwright's managed Chromium when it is installed, else None."""
    return managed_browser_paths()["chromium"]


def engine_unavailable(engine: str, configured_chromium: str | None = None) -> str | None:
    """Return why a browser engine cannot run on this server (with how to install it), or None."""
    if engine == "chromium":
        try:
            find_chromium(configured_chromium)
        except BrowserUnavailable as exc:
            return str(exc)
        return None
    if managed_browser_paths().get(engine):
        return None
    return (
        f"{engine} is not installed on this server. An administrator can install it with "
        f"`python -m playwright install --with-deps {engine}`."
    )


def find_chromium(configured: str | None = None) -> ChromiumChoice:
    """Choose the Chromium to launch, in the documented order, or raise BrowserUnavailable."""
    if configured:
        if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
            raise BrowserUnavailable(f"SENTRI_CHROMIUM_PATH={configured} is not an executable file.")
        return ChromiumChoice(configured, "configured")
    if playwright_chromium_path():
        return ChromiumChoice(None, "playwright")
    for candidate in SYSTEM_CHROMIUM_CANDIDATES:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return ChromiumChoice(candidate, "system")
    found = shutil.which("chromium")
    if found:
        return ChromiumChoice(found, "system")
    raise BrowserUnavailable(
        "No Chromium found. Install Playwright's browser (`python -m playwright install --with-deps chromium`), "
        "or Debian's (`apt-get install -y chromium`), or set SENTRI_CHROMIUM_PATH to a Chromium executable."
    )


def launch_options(choice: ChromiumChoice) -> dict:
    """Return the keyword arguments for playwright's chromium.launch()."""
    options: dict = {"headless": True, "args": list(CHROMIUM_ARGS)}
    if choice.executable:
        options["executable_path"] = choice.executable
    return options


def main() -> int:
    """Report which Chromium Sentri will use (exit 1 with what to install when there is none)."""
    try:
        choice = find_chromium(os.environ.get("SENTRI_CHROMIUM_PATH") or None)
    except BrowserUnavailable as exc:
        print(f"sentri: {exc}")
        return 1
    print(f"sentri: using the {choice.describe()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
