"""Screenshots of every UI page at a desktop and a phone width, for review: the showcase project
(tests/support/showcase.py) served on a free port, real Chromium.

    python bench/screenshots.py [OUT_DIR]      # default: ./screenshots

Saves <page>-1440.png and <page>-390.png (full page) of each page, and of the states showcase.STATES names
(the review queue's Changed area view), logged in as the admin, and prints any page that scrolls sideways.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WIDTHS = {1440: 900, 390: 844}


def main() -> int:
    from flask_migrate import upgrade
    from playwright.sync_api import sync_playwright
    from waitress.server import create_server

    from sentri import create_app
    from sentri.runtime import runtime
    from sentri.worker.browsers import find_chromium, launch_options
    from tests.support import showcase

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "TESTING": True,
                "SENTRI_INSTANCE_PATH": str(Path(folder) / "instance"),
                "RATELIMIT_ENABLED": False,
                "SENTRI_DEMO": False,
                "SENTRI_SECRET_KEY": "screenshots-secret-key-not-for-production",
            }
        )
        with app.app_context():
            upgrade()
        ids = showcase.seed(app)
        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.effective_port}"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(**launch_options(find_chromium()))
                for width, height in WIDTHS.items():
                    page = browser.new_page(base_url=base, viewport={"width": width, "height": height})
                    paths = showcase.pages(ids)
                    shots = [(name, path, None) for name, path in paths.items()]
                    shots += [
                        (name, paths[shown], button) for name, (shown, button) in showcase.STATES.items()
                    ]
                    for name, path, button in shots:
                        if name == "projects":  # every page after the login page is seen logged in
                            page.goto("/login")
                            page.get_by_label("Email").fill("admin@example.com")
                            page.get_by_label("Password").fill(showcase.PASSWORD)
                            page.get_by_role("button", name="Log in").click()
                            page.wait_for_url("**/projects")
                        page.goto(path)
                        if button:  # the same page in another state (showcase.STATES)
                            page.get_by_role("button", name=button).first.click()
                        wide = page.evaluate("document.documentElement.scrollWidth")
                        target = out / f"{name}-{width}.png"
                        page.screenshot(path=str(target), full_page=True)
                        print(target, f"(scrolls sideways: {wide} px)" if wide > width else "")
                    page.close()
                browser.close()
        finally:
            server.close()
            runtime(app).engine.shutdown(0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
