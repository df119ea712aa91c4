"""What Sentri launches Chromium with: Playwright's own disabled features kept (Chromium keeps only the last
--disable-features), and the WebUI omnibox popup a full Chromium preloads into every context left out."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import sync_playwright

from sentri.worker import browsers
from tests.support.processes import command_line, descendants

pytestmark = pytest.mark.browser


def _disabled() -> set[str]:
    """The features the one running browser (this process's) was told to disable: the value of its last
    --disable-features, read from /proc."""
    [arguments] = [
        args
        for args in map(command_line, descendants(os.getpid()))
        if "--remote-debugging-pipe" in args and not any(a.startswith("--type=") for a in args)
    ]
    values = [a.split("=", 1)[1] for a in arguments if a.startswith("--disable-features=")]
    return set(values[-1].split(",")) if values else set()


def _browser_ui(browser) -> list[str]:
    """The URLs of the browser's own UI pages while one test's context is open."""
    context = browser.new_context()
    try:
        context.new_page().goto("about:blank")
        targets = browser.new_browser_cdp_session().send("Target.getTargets")["targetInfos"]
        return [t["url"] for t in targets if t["type"] != "page" or t["url"].startswith("chrome://")]
    finally:
        context.close()


def _installed() -> list[browsers.ChromiumChoice]:
    """The Chromium Sentri launches here, and every other system Chromium it would fall back to (a full one
    preloads the popup; the headless shell chosen first has no browser UI)."""
    chosen = browsers.find_chromium()
    others = [
        browsers.ChromiumChoice(path, "system")
        for path in browsers.SYSTEM_CHROMIUM_CANDIDATES
        if path != chosen.executable and os.access(path, os.X_OK)
    ]
    return [chosen, *others]


@pytest.mark.parametrize("choice", _installed(), ids=lambda choice: choice.executable or "playwright")
def test_chromium_keeps_playwrights_disabled_features_and_preloads_no_omnibox_popup(choice):
    with sync_playwright() as pw:
        plain = pw.chromium.launch(
            **{**browsers.launch_options(choice), "args": list(browsers.CHROMIUM_ARGS)}
        )
        try:
            playwrights = _disabled()
        finally:
            plain.close()
        sentri = pw.chromium.launch(**browsers.launch_options(choice))
        try:
            disabled = _disabled()
            ui = _browser_ui(sentri)
        finally:
            sentri.close()
    assert playwrights, "Playwright passed no --disable-features: check PLAYWRIGHT_DISABLED_FEATURES"
    assert not playwrights - disabled, (
        f"Playwright now also disables {sorted(playwrights - disabled)}: add them"
    )
    assert set(browsers.DISABLED_FEATURES) <= disabled
    assert not [url for url in ui if "omnibox" in url], ui
