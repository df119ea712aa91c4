"""How much slower is a Sentri run than the same tests in a plain Playwright script?

    python bench/run_overhead.py [--tests N] [--rounds R] [--sizes 20,100,400]

Starts the fixture site and a real Sentri process (SENTRI_MAX_BROWSERS=2), imports N tests
(goto /page/n, click "Go n", expect "Done n"), then for parallelWorkers 1 and 2:

* Sentri, end to end over HTTP: from sending the trigger to the run's end (its finished_at, read from the
  server's database once a status poll has seen a terminal state: polls every --poll seconds, default 1,
  as a CI's loop would; the seed's loops poll every 10 s); and the latency from receiving the 202 to the
  fixture site's first request of the run. `--poll 0.05` polls 20 times a second instead, and the time
  ends at the poll that saw the end; each poll is a request the server answers while it runs the tests.
* Baseline: a plain Playwright (sync) script with the same Chromium (browsers.find_chromium()) and the
  flags a user gives it here (browsers.CHROMIUM_ARGS, without Sentri's browsers.DISABLED_FEATURES), one
  browser per worker thread launched before timing (warm, as Sentri's
  are), a fresh context per test, the same steps with the same locators and timeouts.

A warm-up round (the widest setting, both sides) runs first and is not counted; rounds alternate Sentri
and baseline. The host's load shows in the figures: run it on a quiet machine. Also printed, per test:
the CPU time each side used (Sentri: its server process and every process under it, browsers included,
plus this process's fixture site and polling; baseline: this process and its Playwright and browsers),
a figure a busy or drifting machine moves far less than wall time.
Prints medians; the targets (ratio <= 1.05, first-step latency < 300 ms) are printed, not asserted.

Then where the extra time per test goes (overhead_breakdown.py), for each of --sizes: one run of N tests
at parallelWorkers 1 next to one baseline round, with the medians of the run's own rows (steps, the
executor around them, the gap between tests); the parts measured in this process (context set-up, vitals
injection and reads, a trace's start and stop); and the database work per test.
Exits 1 only when Sentri could not run the tests (the error is printed).
"""

from __future__ import annotations

import argparse
import os
import queue
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import expect, sync_playwright

from bench import overhead_breakdown
from sentri.worker import browsers, vitals_probe
from tests.support import FixtureSite, SentriProcess, make_tests
from tests.support.processes import cpu_seconds, descendants

SETTINGS = (1, 2)
POLL_INTERVAL = 1.0  # --poll
STEP_TIMEOUT_MS = 15_000  # Sentri's default step timeout (worker/steps.py)
RUN_TIMEOUT = 180.0
TARGET_RATIO = 1.05
TARGET_LATENCY_MS = 300.0


class BenchError(RuntimeError):
    pass


# -- CPU time --------------------------------------------------------------------------------------------


def tree_cpu(pid: int, skip: frozenset[int] = frozenset()) -> float:
    """CPU seconds of a process and every process under it (but `skip`), with the children they have reaped
    (a browser's finished renderers are counted by the process that waited for them)."""
    total = 0.0
    for each in [pid, *descendants(pid)]:
        if each not in skip:
            try:
                total += cpu_seconds(each, reaped=True)
            except OSError:  # it ended meanwhile
                pass
    return total


def own_cpu() -> float:
    """CPU seconds of this process (all threads: the fixture site, the polling, the baseline's Playwright)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def baseline_cpu(sentri_pid: int) -> float:
    """CPU seconds of this process and the baseline's Playwright drivers and browsers (not Sentri's)."""
    return tree_cpu(os.getpid(), skip=frozenset([sentri_pid, *descendants(sentri_pid)]))


# -- Sentri ------------------------------------------------------------------------------------------


def sentri_round(
    sentri: SentriProcess,
    site: FixtureSite,
    project_id: str,
    token: str,
    parallel: int,
    n_tests: int,
    poll: float = POLL_INTERVAL,
) -> tuple[float, float | None, str]:
    """Trigger one run; return (seconds from trigger to the terminal poll, ms from 202 to the first page,
    the run's id)."""
    headers = {"Authorization": f"Bearer {token}"}
    http = sentri.http
    sent_clock = time.time()  # the server's finished_at is on this clock (one machine)
    sent = time.monotonic()
    response = http.post(
        f"{sentri.url}/api/v1/projects/{project_id}/trigger",
        headers=headers,
        json={"dialsConfig": {"parallelWorkers": parallel, "retries": 0}},
        timeout=30,
    )
    accepted = time.monotonic()
    if response.status_code != 202:
        raise BenchError(f"trigger answered {response.status_code}: {response.text[:500]}")
    status_url = response.json()["statusUrl"]
    deadline = sent + RUN_TIMEOUT
    while True:
        answer = http.get(status_url, headers=headers, timeout=30)
        if answer.status_code != 200:
            raise BenchError(f"status answered {answer.status_code}: {answer.text[:500]}")
        body = answer.json()
        if body["status"] != "running":
            ended = time.monotonic()
            break
        if time.monotonic() > deadline:
            raise BenchError(f"run still running after {RUN_TIMEOUT}s: {body}")
        time.sleep(poll)
    if body["status"] != "completed" or body["passed"] != n_tests:
        raise BenchError(f"the run did not pass all {n_tests} tests: {body}")
    first = site.first_request_since(sent, "/page/")
    latency_ms = (first.monotonic - accepted) * 1000 if first else None
    finished = overhead_breakdown.run_finished_at(sentri.instance_path / "sentri.db", body["runId"])
    if poll >= 0.5 and finished is not None:
        return finished - sent_clock, latency_ms, body["runId"]
    return ended - sent, latency_ms, body["runId"]


# -- baseline --------------------------------------------------------------------------------------------


def run_test(browser, site_url: str, n: int, vitals: bool = False) -> None:
    """The same three steps as the imported test, with the same locators; a fresh context per test.
    With `vitals`, also the same Web Vitals collection as Sentri's (vitals_probe.arm: the same script and
    binding, through which a page being left hands its values over; one read at the end)."""
    context = browser.new_context()
    try:
        if vitals:
            pushed = []
            context.expose_binding(vitals_probe.BINDING, lambda _source, row: pushed.append(row))
            context.add_init_script(vitals_probe.init_script())
        page = context.new_page()
        page.goto(f"{site_url}/page/{n}", timeout=STEP_TIMEOUT_MS)
        page.get_by_role("button", name=f"Go {n}", exact=True).click(timeout=STEP_TIMEOUT_MS)
        expect(page.locator("#out")).to_contain_text(f"Done {n}", timeout=STEP_TIMEOUT_MS)
        if vitals:
            page.evaluate(vitals_probe.READ_SCRIPT)
    finally:
        context.close()


def baseline_round(
    site_url: str, n_tests: int, parallel: int, vitals: bool = False, cpu=None, sentri_flags: bool = False
) -> float:
    """`parallel` threads, each with its own Playwright and warm browser, share a queue of the tests.
    `cpu`: a (function, list): the list gets the CPU seconds the function counts from the start of the tests
    to their end, browsers still open (their launch and close not counted, as Sentri's are not).
    `sentri_flags`: Chromium launched as Sentri launches it (launch_options(), its disabled features too)."""
    options = browsers.launch_options(browsers.find_chromium())
    if not sentri_flags:
        options["args"] = list(browsers.CHROMIUM_ARGS)
    work: queue.Queue[int] = queue.Queue()
    for n in range(1, n_tests + 1):
        work.put(n)
    ready = threading.Barrier(parallel + 1, timeout=120)
    done = threading.Barrier(parallel + 1, timeout=RUN_TIMEOUT)  # tests over, browsers not yet closed
    go = threading.Event()
    errors: list[BaseException] = []
    finished: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(**options)
                try:
                    ready.wait()
                    go.wait(timeout=120)
                    while True:
                        try:
                            n = work.get_nowait()
                        except queue.Empty:
                            break
                        run_test(browser, site_url, n, vitals)
                    with lock:
                        finished.append(time.monotonic())
                    done.wait()
                    done.wait()  # the CPU is read between the two
                finally:
                    browser.close()
        except BaseException as exc:  # report it from the main thread
            with lock:
                errors.append(exc)
            for barrier in (ready, done):
                if not barrier.broken:
                    barrier.abort()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    try:
        ready.wait()  # every browser is launched: warm
    except threading.BrokenBarrierError:
        pass
    counted = cpu[0]() if cpu else 0.0
    start = time.monotonic()
    go.set()
    try:
        done.wait()
        if cpu:
            cpu[1].append(cpu[0]() - counted)
        done.wait()
    except threading.BrokenBarrierError:
        pass
    for thread in threads:
        thread.join(timeout=RUN_TIMEOUT)
    if errors:
        raise BenchError(f"baseline failed: {errors[0]!r}")
    if len(finished) != parallel:
        raise BenchError("baseline workers did not finish in time")
    return max(finished) - start


# -- main ------------------------------------------------------------------------------------------------


def breakdown_rows(
    sentri: SentriProcess, site: FixtureSite, tmp: Path, sizes: list[int], poll: float
) -> list[tuple]:
    """For each size: one Sentri run (parallelWorkers 1) and one baseline round; per-test figures and the
    run's row medians."""
    rows = []
    for n_tests in sizes:
        project_id = sentri.cli("projects", "create", f"Bench {n_tests}", "--base-url", site.url)
        tests_file = make_tests(n_tests, site.url, tmp / f"tests-{n_tests}.yaml")
        sentri.cli("tests", "import", "--project", project_id, str(tests_file), "--approve")
        token = sentri.cli("tokens", "create", "--project", project_id, "--name", "bench")
        seconds, _, run_id = sentri_round(sentri, site, project_id, token, 1, n_tests, poll)
        base = baseline_round(site.url, n_tests, 1)
        found = overhead_breakdown.run_rows(sentri.instance_path / "sentri.db", run_id)
        rows.append((n_tests, seconds / n_tests * 1000, base / n_tests * 1000, found))
        print(f"  {n_tests} tests: Sentri {seconds:.2f} s, baseline {base:.2f} s")
    return rows


def print_breakdown(rows: list[tuple], parts: overhead_breakdown.Components, database_ms: float) -> None:
    print()
    print("Where the extra time per test goes (parallelWorkers 1; ms per test)")
    print(f"{'tests':>6}{'Sentri':>9}{'baseline':>10}{'extra':>8}{'steps':>8}{'around steps':>14}{'gap':>7}")
    for n_tests, sentri_ms, base_ms, found in rows:
        gap = f"{found.gap:.1f}" if found.gap is not None else "n/a"
        print(
            f"{n_tests:>6}{sentri_ms:>9.1f}{base_ms:>10.1f}{sentri_ms - base_ms:>8.1f}{found.steps:>8.0f}"
            f"{found.around_steps:>14.0f}{gap:>7}"
        )
    print("  (steps, around steps and gap are medians of the run's own rows: the executor's time around the")
    print(
        "   steps holds the context, guard, vitals and close; the gap, result recorded -> next test started)"
    )
    print(f"measured in this process over {parts.tests} tests, interleaved with the plain flow:")
    print(
        f"  context set-up    {parts.sentri_setup:6.1f} ms  (plain: {parts.plain_setup:.1f} ms; Sentri adds "
        f"{parts.sentri_setup - parts.plain_setup:+.1f}: blocked service workers, the guard's routes, vitals script)"
    )
    print(
        f"  vitals read       {parts.vitals:6.1f} ms  (at the end, for the page the test ends on: INP needs its "
        "frame presented; pages left on the way hand theirs over)"
    )
    print(
        f"  trace start+stop  {parts.trace:6.1f} ms  (only traced attempts pay it: retries and the re-run of a "
        "failure, SENTRI_TRACES=rerun)"
    )
    print(f"  database          {database_ms:6.1f} ms  (look, claim, build the job, record: part of the gap)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=20, help="tests per run (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="counted rounds per setting (default 3)")
    parser.add_argument("--sizes", default="20,100,400", help="run sizes for the breakdown ('' for none)")
    parser.add_argument(
        "--poll",
        type=float,
        default=POLL_INTERVAL,
        help="seconds between status polls (default 1; below 0.5 the time ends at the poll)",
    )
    args = parser.parse_args(argv)
    poll = max(0.01, args.poll)
    n_tests, rounds = max(1, args.tests), max(1, args.rounds)
    sizes = [max(1, int(size)) for size in args.sizes.split(",") if size.strip()]
    choice = browsers.find_chromium()
    print(
        f"run_overhead: {n_tests} tests, {rounds} round(s) per setting after a warm-up; {choice.describe()}"
    )

    rows, breakdown = [], []
    with tempfile.TemporaryDirectory(prefix="sentri-bench-") as tmp, FixtureSite() as site:
        with SentriProcess(Path(tmp) / "instance", max_browsers=2) as sentri:
            project_id = sentri.cli("projects", "create", "Bench", "--base-url", site.url)
            tests_file = make_tests(n_tests, site.url, Path(tmp) / "tests.yaml")
            sentri.cli("tests", "import", "--project", project_id, str(tests_file), "--approve")
            token = sentri.cli("tokens", "create", "--project", project_id, "--name", "bench")
            print(f"Sentri at {sentri.url}, fixture site at {site.url}, project {project_id}")
            try:
                # Warm-up, not counted: every Sentri browser worker (the widest setting) and the baseline.
                sentri_round(sentri, site, project_id, token, max(SETTINGS), n_tests, poll)
                baseline_round(site.url, n_tests, max(SETTINGS))
                for parallel in SETTINGS:
                    same_flags: list[float] = []
                    sentri_times, base_times, vitals_times, latencies, cpu = [], [], [], [], ([], [], [], [])
                    for r in range(rounds):
                        before = tree_cpu(sentri.proc.pid) + own_cpu()
                        seconds, latency, _ = sentri_round(
                            sentri, site, project_id, token, parallel, n_tests, poll
                        )
                        cpu[0].append(tree_cpu(sentri.proc.pid) + own_cpu() - before)
                        base = baseline_round(
                            site.url, n_tests, parallel, cpu=(lambda: baseline_cpu(sentri.proc.pid), cpu[1])
                        )
                        with_vitals = baseline_round(
                            site.url,
                            n_tests,
                            parallel,
                            vitals=True,
                            cpu=(lambda: baseline_cpu(sentri.proc.pid), cpu[2]),
                        )
                        same_flags.append(
                            baseline_round(
                                site.url,
                                n_tests,
                                parallel,
                                sentri_flags=True,
                                cpu=(lambda: baseline_cpu(sentri.proc.pid), cpu[3]),
                            )
                        )
                        sentri_times.append(seconds)
                        base_times.append(base)
                        vitals_times.append(with_vitals)
                        if latency is not None:
                            latencies.append(latency)
                        shown = f"{latency:.0f} ms" if latency is not None else "n/a"
                        print(
                            f"  parallelWorkers={parallel} round {r + 1}: Sentri {seconds:.3f} s, "
                            f"baseline {base:.3f} s, baseline+vitals {with_vitals:.3f} s, baseline with Sentri's "
                            f"flags {same_flags[-1]:.3f} s, first request {shown}"
                        )
                    rows.append(
                        (
                            parallel,
                            statistics.median(sentri_times),
                            statistics.median(base_times),
                            statistics.median(vitals_times),
                            statistics.median(latencies) if latencies else None,
                            statistics.median(same_flags),
                            *(statistics.median(each) / n_tests * 1000 for each in cpu),
                        )
                    )
                if sizes:
                    print("breakdown runs:")
                    breakdown = breakdown_rows(sentri, site, Path(tmp), sizes, poll)
            except BenchError as exc:
                print(f"\nrun_overhead: FAILED: {exc}")
                print(f"(server log: {sentri.stderr_path})")
                return 1
        parts = overhead_breakdown.components(site.url) if sizes else None
    database_ms = overhead_breakdown.database_ms_per_test() if sizes else None

    print()
    print(
        f"{'setting':<20}{'Sentri s':>10}{'plain s':>10}{'ratio':>7}{'flags s':>9}{'ratio':>7}{'+vitals s':>11}"
        f"{'ratio':>7}{'first-step ms':>15}   targets (the ratio to the same-flags loop)"
    )
    for parallel, sentri_s, base_s, vitals_s, latency, same_s, *_ in rows:
        ratio = sentri_s / same_s
        latency_text = f"{latency:.0f}" if latency is not None else "n/a"
        ok_ratio = "ok" if ratio <= TARGET_RATIO else "MISSED"
        ok_latency = "ok" if latency is not None and latency < TARGET_LATENCY_MS else "MISSED"
        print(
            f"{'parallelWorkers=' + str(parallel):<20}{sentri_s:>10.3f}{base_s:>10.3f}{sentri_s / base_s:>7.2f}"
            f"{same_s:>9.3f}{ratio:>7.2f}{vitals_s:>11.3f}{sentri_s / vitals_s:>7.2f}{latency_text:>15}   "
            f"ratio<={TARGET_RATIO:.2f} {ok_ratio}; latency<{TARGET_LATENCY_MS:.0f} ms {ok_latency}"
        )
    ends = "the run's finished_at" if poll >= 0.5 else "the poll that saw the end"
    print(
        f"(medians of {rounds} round(s); {n_tests} tests; Sentri polled every {poll * 1000:.0f} ms, "
        f"timed to {ends};"
    )
    print(
        " '+vitals' is the baseline also collecting Web Vitals the way Sentri does, which every Sentri test does;"
    )
    print(
        " 'flags' is the plain baseline with Chromium launched as Sentri launches it (the target's baseline): what Sentri adds"
    )
    print(" around the same browser)")
    for parallel, sentri_s, _, _, _, same_s, sentri_cpu, base_cpu, vitals_cpu, same_cpu in rows:
        print(
            f"CPU per test, parallelWorkers={parallel}: Sentri {sentri_cpu:.0f} ms, baseline {base_cpu:.0f} ms, "
            f"ratio {sentri_cpu / base_cpu:.2f}; baseline+vitals {vitals_cpu:.0f} ms ({vitals_cpu / base_cpu:.2f}x "
            f"the baseline); with Sentri's flags {same_cpu:.0f} ms (Sentri {sentri_cpu / same_cpu:.2f}x it, wall "
            f"{sentri_s / same_s:.2f}x) (every process of each side; medians)"
        )
    if sizes:
        print_breakdown(breakdown, parts, database_ms)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
