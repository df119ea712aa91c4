"""What does one expect_screenshot step cost, next to the plain Playwright screenshot a user would take?

    python bench/visual.py [--repeat 30]

Serves a 1280x720 page (text, coloured boxes, no images) on 127.0.0.1, launches Chromium once and opens
the page, then, --repeat times, interleaved:

* baseline: `await page.screenshot()`, plain Playwright;
* step:     the worker's expect_screenshot step (sentri.worker.snapshots.Snapshots) against an approved
            baseline of the page: fonts wait, stabilising style, Playwright's stable options, then
            screenshots compared as they come until one matches (the first, on a page that is still);
* new:      sentri.visual.shot.stable_screenshot(page), what a step with no baseline yet keeps: screenshots
            until two in a row are identical (at least two, 100 ms apart, as toHaveScreenshot takes them).

Prints the median of each and the ratios step/baseline and new/baseline (1.0: the visual check costs
nothing beyond the screenshot), and how many steps matched byte for byte (compare then skips decoding).
Then, on its own, the median of compare() on two 1280x720 PNGs, one with a changed region: both decoded,
the distance measured, the diff PNG written.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw
from playwright.async_api import async_playwright

from sentri.stores import FolderStore
from sentri.visual import store
from sentri.visual.compare import compare
from sentri.visual.shot import stable_screenshot
from sentri.worker import browsers
from sentri.worker.snapshots import Snapshots

BOXES = "".join(
    f'<div class="box" style="background:{colour}">{colour}</div>'
    for colour in ("#e63946", "#f1c453", "#2a9d8f", "#264653", "#8d99ae", "#6a4c93")
)
PARAGRAPHS = "".join(
    f"<p>Paragraph {n}: the quick brown fox jumps over the lazy dog, again and again, "
    "so that the line wraps and the text rasteriser has some work to do.</p>"
    for n in range(8)
)
PAGE = f"""<!doctype html><html><head><title>Visual bench</title><style>
  body {{ margin: 0; font: 16px/1.5 sans-serif; width: 1280px; height: 720px; overflow: hidden }}
  header {{ background: #1d3557; color: #fff; padding: 16px 32px; font-size: 24px }}
  main {{ display: grid; grid-template-columns: 2fr 1fr; gap: 24px; padding: 24px 32px }}
  .boxes {{ display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px }}
  .box {{ height: 90px; border-radius: 8px; color: #fff; padding: 8px }}
</style></head><body><header>Sentri visual benchmark</header>
<main><section>{PARAGRAPHS}</section><aside class="boxes">{BOXES}</aside></main></body></html>""".encode()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args) -> None:
        pass


async def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = await action()
    return (time.perf_counter() - started) * 1000, result


async def measure(
    url: str, repeat: int, root: Path
) -> tuple[list[float], list[float], list[float], bytes, int]:
    plain, step, new, same_bytes = [], [], [], 0
    async with async_playwright() as pw:
        browser = await browsers.launch_chromium(pw.chromium, browsers.find_chromium())
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 720})
            await page.goto(url, wait_until="load")
            await page.screenshot()  # warm-up
            baseline = await stable_screenshot(page)  # the approved baseline every step compares against
            artifacts = FolderStore(root)
            job = SimpleNamespace(
                uses_secrets=False,
                step_timeout_ms=15_000,
                rejected_shots={},
                artifacts=artifacts,
                baselines={"bench@1280x720": {"id": 1, "sha256": store.put(artifacts, baseline)}},
            )
            snapshots = Snapshots(job)
            step_of = {"action": "expect_screenshot", "name": "bench"}
            for _ in range(repeat):
                ms, _shot = await timed(page.screenshot)
                plain.append(ms)
                ms, _ = await timed(lambda: snapshots(page, 1, step_of))
                step.append(ms)
                entry = snapshots.entries[-1]
                if entry["status"] != "matched":
                    raise SystemExit(f"the step did not match its baseline: {entry}")
                same_bytes += entry["sha256"] == entry["expectedSha256"]
                ms, _ = await timed(lambda: stable_screenshot(page))
                new.append(ms)
        finally:
            await browser.close()
    return plain, step, new, baseline, same_bytes


def compare_alone(baseline: bytes, repeat: int) -> list[float]:
    image = Image.open(io.BytesIO(baseline)).convert("RGB")
    ImageDraw.Draw(image).rectangle((900, 300, 1099, 449), fill="#ff8800")  # 200x150 changed
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    changed = buffer.getvalue()
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        result = compare(baseline, changed)
        times.append((time.perf_counter() - started) * 1000)
    if result.diff_pixels < 200 * 150 // 2:
        raise SystemExit(f"compare found only {result.diff_pixels} changed pixels")
    return times[1:]  # the first is a warm-up


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        print(f"visual: 1280x720 page, median of {args.repeat}, interleaved after a warm-up")
        with tempfile.TemporaryDirectory() as root:
            plain, step, new, baseline, same_bytes = asyncio.run(measure(url, args.repeat, Path(root)))
    finally:
        server.shutdown()
    base, product, still = statistics.median(plain), statistics.median(step), statistics.median(new)
    print(f"screenshot (plain Playwright): {base:.1f} ms")
    print(f"expect_screenshot step against its baseline: {product:.1f} ms")
    print(f"ratio: {product / base:.2f}")
    print(
        f"  ({same_bytes} of {args.repeat} steps matched byte for byte, so compare took its no-decode path)"
    )
    print(f"a still picture for a new baseline (two identical screenshots): {still:.1f} ms")
    print(f"ratio: {still / base:.2f}")
    print(f"compare alone: {statistics.median(compare_alone(baseline, args.repeat)):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
