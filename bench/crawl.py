"""How fast does the crawler visit pages, next to a plain Playwright loop over the same URLs?

    python bench/crawl.py [--pages 200] [--rounds 3] [--concurrency 2]

Starts tests/support/crawl_site.LargeSite (N pages of N distinct URL patterns: nothing collapses under the
crawler's structure rule) and one Chromium, then, --rounds times, interleaved:

* crawl:    sentri.crawl.crawler.crawl with max_pages=N, max_depth=N, the given concurrency, in a context
            behind Sentri's guard (as the executor builds a test's): robots.txt and sitemap look-ups, each
            page read (structure, links, vitals), the frontier's bookkeeping;
* baseline: the URLs that crawl visited, in a plain context, `goto` + wait for `load` in new pages, the
            same number at once.

Prints pages/second for both (median of the rounds) and the ratio crawl/baseline (1.0: the crawler costs
nothing beyond loading the pages). Exits 1 when a crawl visits fewer than N pages.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import async_playwright

from sentri import origins
from sentri.crawl.crawler import CrawlOptions, crawl
from sentri.worker import browsers
from sentri.worker.guard import Guard, HostCache
from tests.support.crawl_site import LargeSite


async def crawl_once(browser, base_url: str, pages: int, concurrency: int) -> tuple[float, list[str]]:
    async def new_context(**options):
        context = await browser.new_context(**options, service_workers="block")
        guard = Guard(
            networks=origins.parse_networks(""),
            hosts=HostCache(),
            trusted=origins.TrustedOrigins([base_url], []),
        )
        await guard.install(context, base_url)
        return context

    started = time.perf_counter()
    outcome = await crawl(
        new_context, CrawlOptions(base_url, max_pages=pages, max_depth=pages, concurrency=concurrency)
    )
    seconds = time.perf_counter() - started
    errors = [page for page in outcome.pages if page["error"]]
    if len(outcome.pages) < pages or errors:
        raise SystemExit(
            f"crawl visited {len(outcome.pages)} of {pages} pages; errors: "
            f"{[(page['path'], page['error']) for page in errors][:3]}"
        )
    return seconds, [page["url"] for page in outcome.pages]


async def baseline_once(browser, urls: list[str], concurrency: int) -> float:
    started = time.perf_counter()
    context = await browser.new_context()
    queue = list(urls)

    async def worker() -> None:
        while queue:
            url = queue.pop(0)
            page = await context.new_page()
            await page.goto(url, wait_until="load")
            await page.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await context.close()
    return time.perf_counter() - started


async def measure(
    base_url: str, pages: int, rounds: int, concurrency: int
) -> tuple[list[float], list[float]]:
    crawled, plain = [], []
    async with async_playwright() as pw:
        browser = await browsers.launch_chromium(pw.chromium, browsers.find_chromium())
        try:
            _, urls = await crawl_once(browser, base_url, pages, concurrency)  # warm-up, not counted
            await baseline_once(browser, urls, concurrency)
            for number in range(rounds):
                seconds, urls = await crawl_once(browser, base_url, pages, concurrency)
                base = await baseline_once(browser, urls, concurrency)
                crawled.append(pages / seconds)
                plain.append(pages / base)
                print(f"  round {number + 1}: crawl {seconds:.2f} s, baseline {base:.2f} s")
        finally:
            await browser.close()
    return crawled, plain


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    with LargeSite(args.pages) as site:
        print(
            f"crawl: {args.pages} pages, {args.rounds} round(s) after a warm-up, {args.concurrency} at once"
        )
        crawled, plain = asyncio.run(measure(site.url + "/", args.pages, args.rounds, args.concurrency))
    product, base = statistics.median(crawled), statistics.median(plain)
    print(f"crawler:  {product:.1f} pages/s (median)")
    print(f"baseline: {base:.1f} pages/s (median; plain goto + load, same URLs, same parallelism)")
    print(f"ratio crawler/baseline: {product / base:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
