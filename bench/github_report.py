"""What does Sentri's GitHub client cost per report, next to a plain requests script doing the same?

    python bench/github_report.py [--reports N] [--comments C]

Starts the tests' fake GitHub on loopback with a pull request carrying C comments (default 250, so
three pages of 100) and Sentri's comment last, then posts N reports (default 30) two ways:

* Sentri: `sentri.github.Client` (every request re-checked by the SSRF guard and sent only to the
  checked address, connections kept alive per checked target, no redirects), as the reporter does
  at the end of a run;
* baseline: one `requests.Session` (keep-alive) sending the same requests with no checks.

A report is: page through the comments to find Sentri's, PATCH it, POST the commit status. Prints
the mean and p50 per report of each and the ratio. Exits 1 when a report failed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentri.github import client as github
from sentri.github import report as github_report
from tests.support.fake_github import FakeGitHub

REPO, PR, SHA, TOKEN = "octo/bench", 1, "f" * 40, "ghp_bench_token_not_real_000000000000"
MARK = github_report.marker("PRJ-1")


def sentri_report(client: github.Client, body: str) -> None:
    client.upsert_comment(REPO, PR, MARK, body)
    client.set_status(
        REPO,
        SHA,
        state="success",
        description="Passed",
        target_url="http://127.0.0.1/runs/RUN-1",
        context="sentri",
    )


def plain_report(session: requests.Session, base: str, body: str) -> None:
    url: str | None = f"{base}/repos/{REPO}/issues/{PR}/comments?per_page=100"
    found = None
    while url and found is None:
        response = session.get(url, timeout=10)
        response.raise_for_status()
        found = next((c for c in response.json() if MARK in c["body"]), None)
        url = response.links.get("next", {}).get("url")
    assert found is not None
    session.patch(
        f"{base}/repos/{REPO}/issues/comments/{found['id']}", json={"body": body}, timeout=10
    ).raise_for_status()
    session.post(
        f"{base}/repos/{REPO}/statuses/{SHA}",
        timeout=10,
        json={
            "state": "success",
            "description": "Passed",
            "target_url": "http://127.0.0.1/runs/RUN-1",
            "context": "sentri",
        },
    ).raise_for_status()


def timed(report, n: int) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        report(f"{MARK}\nreport {i}")
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=30)
    parser.add_argument("--comments", type=int, default=250)
    args = parser.parse_args()
    with FakeGitHub() as fake:
        fake.add_token(TOKEN)
        fake.add_repo(REPO, pulls=[PR])
        fake.seed_comments(REPO, PR, [f"comment {n}" for n in range(args.comments - 1)] + [MARK])
        client = github.Client(fake.url, TOKEN, retry_seconds=0, stopping=threading.Event())  # closed below
        session = requests.Session()
        session.trust_env = False
        session.headers.update(
            {
                "Authorization": f"Bearer {TOKEN}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": github.API_VERSION,
            }
        )
        try:
            timed(lambda body: sentri_report(client, body), 2)  # warm both paths up
            timed(lambda body: plain_report(session, fake.url, body), 2)
            ours = timed(lambda body: sentri_report(client, body), args.reports)
            base = timed(lambda body: plain_report(session, fake.url, body), args.reports)
        except Exception as exc:
            print(f"a report failed: {exc}")
            return 1
        finally:
            client.close()
            session.close()
        requests_per_report = -(-args.comments // github.PER_PAGE) + 2  # the pages, PATCH, POST
    print(
        f"{args.reports} reports, {args.comments} comments on the PR (~{requests_per_report} requests per report)"
    )
    print(f"{'':10} {'mean ms':>8} {'p50 ms':>8}")
    for name, times in (("sentri", ours), ("baseline", base)):
        print(f"{name:10} {statistics.mean(times) * 1000:8.1f} {statistics.median(times) * 1000:8.1f}")
    print(f"ratio (sentri / baseline, mean): {statistics.mean(ours) / statistics.mean(base):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
