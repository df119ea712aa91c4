"""Find and launch a Chromium: SENTRI_CHROMIUM_PATH, else Playwright's own, else the system's; with
its sandbox wherever this process can have one."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from playwright.sync_api import sync_playwright

log = logging.getLogger(__name__)

# Without the networking flags a system Chromium keeps calling home, and where the network is closed
# those calls fail many at a time. The sandbox is not in here: Sandbox below decides it.
CHROMIUM_ARGS = (
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    # WebRTC may send UDP outside any proxy: a page's ICE servers could aim it at a blocked address. With this
    # policy WebRTC uses the context's proxy only (worker/egress.py's gate), or nothing.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)
# A full Chromium in headless mode (a system one; Playwright's own headless shell has no browser UI) preloads
# its WebUI omnibox popup, two chrome://omnibox-popup.top-chrome renderers, into every window: every browser
# context, so every test. Nothing ever shows them. Turned off, a plain goto + click + expect test used 567
# instead of 963 ms of CPU (bench/run_overhead.py prints the run-level figure).
DISABLED_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup")
# Chromium keeps only the last --disable-features it is given, and Playwright passes its own list first: the
# one switch Sentri adds repeats Playwright's (1.65's; tests/test_browser_launch.py checks it against the installed
# Playwright, so an upgrade that changes it fails there).
PLAYWRIGHT_DISABLED_FEATURES = (
    "AimEnabled",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsFirstBalancedModeAutoEnable",
    "HttpsUpgrades",
    "LensOverlay",
    "MediaRouter",
    "NetworkTimeServiceQuerying",
    "OptimizationHints",
    "PaintHolding",
    "PreconnectToSearch",
    "TcpPortRandomizationWin",
    "ThirdPartyStoragePartitioning",
    "msEdgeUpdateLaunchServicesPreferredVersion",
    "msForceBrowserSignIn",
)
# A system's headless shell first, as Playwright itself launches its own for headless runs: the same Blink
# without a browser's windows and UI, so a context (every test and every Web Vitals sample opens one) costs the
# browser process far less. Debian's chromium-headless-shell, measured with plain Playwright on 2 cores, 3 x 25
# goto + click + expect tests, interleaved: 198 ms of machine CPU and 158 ms of wall time per test, where its
# full Chromium (with the omnibox popup off) took 442 ms and 302 ms. Its binary, not /usr/bin's wrapper: that
# script runs it as a child without exec, so a browser closed by killing its launcher would outlive it.
SYSTEM_CHROMIUM_CANDIDATES = (
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
)


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
        "or Debian's (`apt-get install -y chromium-headless-shell chromium`), or set SENTRI_CHROMIUM_PATH to a "
        "Chromium executable."
    )


ROOT_REASON = "the server runs as root; run as a non-root user (the Docker image does) to turn it on"
# How Playwright rewrites Chromium's "No usable sandbox!" (user namespaces blocked, no setuid helper).
SANDBOX_FAILURE_MARKERS = ("Chromium sandboxing failed", "No usable sandbox")


class Sandbox:
    """Whether Chromium runs with its sandbox in this process. Chromium refuses to start sandboxed as
    root, and some containers allow no sandbox at all; either way it runs without, said once in the log."""

    def __init__(self, euid: Callable[[], int] = os.geteuid) -> None:
        self._euid = euid
        self._lock = threading.Lock()
        self._off: str | None = None
        self._logged = False

    def off_reason(self) -> str | None:
        """Return why Chromium must run without its sandbox here (None: with it); log it the first time."""
        with self._lock:
            if self._off is None and self._euid() == 0:
                self._off = ROOT_REASON
            if self._off is not None and not self._logged:
                self._logged = True
                log.warning("Chromium's sandbox is off: %s", self._off)
            return self._off

    def give_up(self, launch_error: str) -> bool:
        """After a sandboxed launch failed: turn the sandbox off for good if no sandbox is usable here."""
        said = next(
            (
                line.strip()
                for line in launch_error.splitlines()
                if any(marker in line for marker in SANDBOX_FAILURE_MARKERS)
            ),
            None,
        )
        if said is None:
            return False
        with self._lock:
            # Another worker's launch may have failed the same way a moment ago: the first reason stays.
            self._off = self._off or (
                f"a sandboxed launch failed ({said!r}): this system gives a non-root process no sandbox "
                "(user namespaces blocked, e.g. by a container's seccomp profile, and no setuid chrome-sandbox "
                "helper); allow unprivileged user namespaces to turn it on"
            )
        return True


SANDBOX = Sandbox()


def chromium_args() -> list[str]:
    """The command-line switches Sentri gives a Chromium it launches (or has a browser server launch)."""
    return [
        *CHROMIUM_ARGS,
        "--disable-features=" + ",".join((*PLAYWRIGHT_DISABLED_FEATURES, *DISABLED_FEATURES)),
    ]


def launch_options(choice: ChromiumChoice, sandbox: Sandbox | None = None) -> dict:
    """Return the keyword arguments for playwright's chromium.launch()."""
    on = (sandbox or SANDBOX).off_reason() is None
    # Playwright adds --no-sandbox itself unless chromium_sandbox is True.
    options: dict = {"headless": True, "args": chromium_args(), "chromium_sandbox": on}
    if choice.executable:
        options["executable_path"] = choice.executable
    return options


async def launch_chromium(chromium, choice: ChromiumChoice, sandbox: Sandbox | None = None):
    """Launch Chromium (playwright's async BrowserType); without the sandbox, once, if none is usable here."""
    sandbox = sandbox or SANDBOX
    try:
        return await chromium.launch(**launch_options(choice, sandbox))
    except Exception as exc:
        if not sandbox.give_up(str(exc)):
            raise
    return await chromium.launch(**launch_options(choice, sandbox))


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
