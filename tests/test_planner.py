"""The planner: smoke detection, flaky scores, duration estimates, risk ordering and budget planning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sentri.policies import planner

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=90)


def hist(
    test_id=1,
    *,
    name=None,
    tags=(),
    updated_at=LONG_AGO,
    outcomes=(),
    durations=(),
    flaky=0.0,
    pages=(),
    heal_rate=0.0,
):
    return planner.TestHistory(
        test_id=test_id,
        name=name or f"Test {test_id}",
        tags=list(tags),
        updated_at=updated_at,
        outcomes=list(outcomes),
        durations_ms=list(durations),
        flaky_score=flaky,
        pages=list(pages),
        heal_rate=heal_rate,
    )


def order(histories, *, changed_pages=(), budget_minutes=None, parallel=1):
    rows = planner.plan(
        histories,
        budget_minutes=budget_minutes,
        changed_pages=list(changed_pages),
        now=NOW,
        parallel=parallel,
    )
    return [row["testId"] for row in rows]


def score(history, changed_pages=()):
    return planner.risk_score(history, now=NOW, changed_pages=list(changed_pages))


# ---------------------------------------------------------------- smoke


@pytest.mark.parametrize(
    ("name", "tags", "expected"),
    [
        ("Login works", ["smoke"], True),
        ("Login works", ["regression", "Smoke"], True),
        ("Login works", [" SMOKE "], True),
        ("Smoke: home page loads", [], True),
        ("checkout-smoke-test", None, True),
        ("HOMEPAGE SMOKE", [], True),
        ("Login works", [], False),
        ("Login works", None, False),
        ("Login works", ["smoke-ish", "smok"], False),  # a tag must be exactly "smoke"
        ("Smok test", ["regression"], False),
    ],
)
def test_is_smoke(name, tags, expected):
    assert planner.is_smoke(name, tags) is expected


# ---------------------------------------------------------------- flaky score


P, F, K = "passed", "failed", "flaky"


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([], 0.0),
        ([P] * 20, 0.0),  # stable
        ([F] * 20, 0.0),  # broken, not flaky
        ([P] * 18 + [F] * 2, 0.1),  # the minority: 2 of 20
        ([F, P] * 9 + [F, F], 0.45),  # order does not matter: 9 passes (minority) of 20
        ([F] * 18 + [P] * 2, 0.1),
        ([P] * 10 + [F] * 10, 0.5),
        ([K] * 20, 1.0),  # every run needed a retry
        ([P] * 19 + [K], 0.05),  # a pass-after-retry always counts...
        ([F] * 19 + [K], 0.05),  # ...even next to a majority of failures
        ([P] * 16 + [F] * 2 + [K] * 2, 0.2),  # 2 flaky + 2 minority failures
        ([P, "skipped", P, F], 1 / 3),  # unknown outcomes are ignored
    ],
)
def test_flaky_score(outcomes, expected):
    assert planner.flaky_score(outcomes) == pytest.approx(expected)


def test_flaky_score_looks_at_the_newest_window_only():
    outcomes = [P] * 20 + [F] * 20  # newest first: the failures are older than the window
    assert planner.flaky_score(outcomes) == 0.0
    assert planner.flaky_score(outcomes, window=40) == 0.5
    assert planner.flaky_score([F, P, P, P, F, F], window=4) == 0.25


# ---------------------------------------------------------------- estimates


@pytest.mark.parametrize(
    ("durations", "expected"),
    [
        ([], planner.DEFAULT_ESTIMATE_MS),
        ([12_000], 12_000),
        ([10_000, 50_000, 20_000], 20_000),  # median, not mean
        ([10_000, 20_000], 15_000),
        ([1_000, 2_001], 1_500),  # 1500.5 rounds to an int
        ([5_000] * 10 + [900_000] * 5, 5_000),  # only the newest 10 count
        ([100_000] * 6 + [1_000] * 5, 100_000),
    ],
)
def test_estimate_ms(durations, expected):
    assert planner.estimate_ms(hist(durations=durations)) == expected
    assert isinstance(planner.estimate_ms(hist(durations=durations)), int)


# ---------------------------------------------------------------- touches


@pytest.mark.parametrize(
    ("pages", "changed", "expected"),
    [
        (["/checkout"], ["/checkout"], True),
        (["https://shop.example/checkout?step=2#top"], ["/checkout"], True),  # by path only
        (["/checkout"], ["https://staging.shop.example/checkout/"], True),
        (["checkout"], ["/checkout"], True),  # relative to the project's base URL
        (["/checkout/"], ["/checkout"], True),  # trailing slash
        (["/caf%C3%A9"], ["/café"], True),
        (["https://shop.example"], ["/"], True),
        (["/checkout/pay"], ["/checkout"], False),  # exact path without a glob
        (["/checkout"], ["/checkout/pay"], False),
        (["/Checkout"], ["/checkout"], False),  # paths are case-sensitive
        (["/checkout/pay"], ["/checkout/*"], True),
        (["/checkout/pay/card"], ["/checkout/*"], True),
        (["/checkout"], ["/checkout/*"], True),  # a directory glob covers its index
        (["/checkout-old"], ["/checkout/*"], False),
        (["/checkout-old"], ["/checkout*"], True),
        (["/shop/42/reviews"], ["/shop/*/reviews"], True),
        (["/"], ["/*"], True),
        (["/a.b"], ["/a*b"], True),
        (["/axb"], ["/a.b"], False),  # no regex leaking through
        (["/home", "/checkout/pay"], ["/about", "/checkout/*"], True),  # any page, any entry
        (["/home"], [], False),
        ([], ["/*"], False),
        (["/home"], [""], False),
    ],
)
def test_touches(pages, changed, expected):
    assert planner.touches(hist(pages=pages), changed) is expected


# ---------------------------------------------------------------- risk: each input on its own changes the order


def test_recent_failure_alone_raises_risk():
    calm, failing = hist(1, outcomes=[P] * 5), hist(2, outcomes=[F] + [P] * 4)
    assert order([calm, failing]) == [2, 1]
    assert order([calm, hist(2, outcomes=[P] * 5)]) == [1, 2]  # without it, ties go by id


def test_twelve_passes_then_a_failure_ranks_above_always_passing():
    always = hist(1, outcomes=[P] * 13)
    just_failed = hist(2, outcomes=[F] + [P] * 12)  # newest first
    assert score(just_failed) > score(always)
    assert order([always, just_failed]) == [2, 1]


def test_an_old_failure_ranks_below_a_failure_in_the_last_run():
    old_failure = hist(1, outcomes=[P] * 12 + [F])
    last_failed = hist(2, outcomes=[F])
    assert score(old_failure) < score(last_failed)
    assert order([old_failure, last_failed]) == [2, 1]


def test_newer_failures_weigh_more():
    scores = [score(hist(outcomes=[P] * age + [F] + [P] * (9 - age))) for age in range(10)]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == 10


def test_a_pass_after_retry_is_not_a_recent_failure():
    assert score(hist(outcomes=[K, P, P])) == score(hist(outcomes=[P, P, P]))


def test_recent_edit_alone_raises_risk():
    untouched = hist(1, updated_at=NOW - timedelta(days=30))
    edited = hist(2, updated_at=NOW - timedelta(hours=2))
    assert order([untouched, edited]) == [2, 1]


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(0), 1.0),
        (timedelta(days=3.5), 0.5),
        (timedelta(days=planner.RECENT_EDIT_DAYS), 0.0),
        (timedelta(days=30), 0.0),
        (-timedelta(hours=1), 1.0),  # clock skew: "in the future" counts as just edited
    ],
)
def test_recently_edited_input_decays_linearly(age, expected):
    assert score(hist(updated_at=NOW - age)) == pytest.approx(planner.WEIGHTS["edited"] * expected)


def test_more_recent_edits_rank_higher():
    older, newer = hist(1, updated_at=NOW - timedelta(days=6)), hist(2, updated_at=NOW - timedelta(days=1))
    assert order([older, newer]) == [2, 1]


def test_naive_datetimes_are_taken_as_utc():
    naive = hist(updated_at=(NOW - timedelta(days=3.5)).replace(tzinfo=None))
    assert score(naive) == pytest.approx(planner.WEIGHTS["edited"] * 0.5)


def test_flaky_history_alone_raises_risk():
    steady, flaky = hist(1, flaky=0.0), hist(2, flaky=0.4)
    assert order([steady, flaky]) == [2, 1]
    assert score(flaky) == pytest.approx(planner.WEIGHTS["flaky"] * 0.4)


def test_touching_a_changed_page_alone_raises_risk():
    elsewhere, affected = hist(1, pages=["/about"]), hist(2, pages=["https://shop.example/cart"])
    assert order([elsewhere, affected], changed_pages=["/cart"]) == [2, 1]
    assert order([elsewhere, affected], changed_pages=[]) == [1, 2]


def test_score_is_the_documented_weighted_sum():
    everything = hist(
        outcomes=[F] * 30, updated_at=NOW, flaky=1.0, pages=["/cart"], heal_rate=1.0
    )  # every input at (nearly) 1
    assert sum(planner.WEIGHTS.values()) == pytest.approx(1.0)
    assert score(everything, ["/cart"]) == pytest.approx(1.0, abs=1e-6)
    assert score(hist()) == 0.0
    only_last_failed = hist(outcomes=[F])
    assert score(only_last_failed) == pytest.approx(planner.WEIGHTS["failures"] * 0.5)


# ---------------------------------------------------------------- plan


def test_tests_that_keep_healing_rank_above_stable_ones():
    assert score(hist(heal_rate=0.5)) == pytest.approx(planner.WEIGHTS["self_heal"] * 0.5)
    rows = planner.plan([hist(1), hist(2, heal_rate=1.0)], budget_minutes=None, changed_pages=[], now=NOW)
    assert [row["testId"] for row in rows] == [2, 1]


def test_plan_rows():
    rows = planner.plan(
        [hist(3, outcomes=[F], durations=[40_000, 42_000, 41_000]), hist(4, name="Smoke home")],
        budget_minutes=None,
        changed_pages=[],
        now=NOW,
    )
    assert rows == [
        {"testId": 4, "score": 0.0, "smoke": True, "estimateMs": planner.DEFAULT_ESTIMATE_MS, "plan": "run"},
        {
            "testId": 3,
            "score": round(planner.WEIGHTS["failures"] * 0.5, 3),
            "smoke": False,
            "estimateMs": 41_000,
            "plan": "run",
        },
    ]


def test_smoke_tests_go_first_then_risk_then_id():
    tests = [
        hist(1, outcomes=[F, F]),  # risky
        hist(2, tags=["smoke"]),  # smoke, low risk
        hist(3),  # nothing
        hist(4, name="smoke checkout", outcomes=[F]),  # smoke, riskier
        hist(5),  # nothing: ties with 3, after it by id
        hist(6, flaky=0.5),
    ]
    assert order(tests) == [4, 2, 1, 6, 3, 5]


def _budget_case():
    # Risk order of the non-smoke tests: 10 (60 s), 11 (120 s), 12 (60 s); smoke 13 (30 s).
    return [
        hist(10, outcomes=[F] * 3, durations=[60_000]),
        hist(11, outcomes=[F] * 2, durations=[120_000]),
        hist(12, outcomes=[F], durations=[60_000]),
        hist(13, tags=["smoke"], durations=[30_000]),
    ]


def plans(rows):
    return {row["testId"]: row["plan"] for row in rows}


def test_budget_marks_the_rest_over_budget_once_exceeded():
    rows = planner.plan(_budget_case(), budget_minutes=3, changed_pages=[], now=NOW)
    assert [row["testId"] for row in rows] == [13, 10, 11, 12]
    # 30 + 60 = 90 s fit; + 120 = 210 s > 180 s: 11 is over budget, and so is 12, though 150 s would fit.
    assert plans(rows) == {13: "run", 10: "run", 11: "over_budget", 12: "over_budget"}


def test_reaching_the_budget_exactly_still_runs():
    rows = planner.plan(_budget_case(), budget_minutes=4.5, changed_pages=[], now=NOW)  # 30+60+120+60 = 270 s
    assert set(plans(rows).values()) == {"run"}
    rows = planner.plan(_budget_case(), budget_minutes=4.49, changed_pages=[], now=NOW)
    assert plans(rows) == {13: "run", 10: "run", 11: "run", 12: "over_budget"}


def test_smoke_tests_run_even_over_budget_and_count_toward_it():
    tests = [
        hist(1, name="Smoke A", durations=[120_000]),
        hist(2, tags=["smoke"], durations=[120_000]),
        hist(3),
    ]
    rows = planner.plan(tests, budget_minutes=1, changed_pages=[], now=NOW)
    assert plans(rows) == {1: "run", 2: "run", 3: "over_budget"}


def test_parallel_workers_halve_consumption():
    rows = planner.plan(_budget_case(), budget_minutes=3, changed_pages=[], now=NOW, parallel=2)
    # 15 + 30 + 60 + 30 = 135 s of wall clock <= 180 s.
    assert set(plans(rows).values()) == {"run"}
    rows = planner.plan(_budget_case(), budget_minutes=1.5, changed_pages=[], now=NOW, parallel=2)
    # 15 + 30 = 45 s; + 60 = 105 s > 90 s.
    assert plans(rows) == {13: "run", 10: "run", 11: "over_budget", 12: "over_budget"}


@pytest.mark.parametrize("parallel", [0, -3])
def test_parallel_below_one_counts_as_one(parallel):
    rows = planner.plan(_budget_case(), budget_minutes=3, changed_pages=[], now=NOW, parallel=parallel)
    assert plans(rows) == {13: "run", 10: "run", 11: "over_budget", 12: "over_budget"}


def test_no_budget_runs_everything():
    rows = planner.plan(_budget_case() * 50, budget_minutes=None, changed_pages=[], now=NOW)
    assert {row["plan"] for row in rows} == {"run"}


def test_new_tests_use_the_default_estimate():
    tests = [hist(1), hist(2), hist(3)]  # no durations: 30 s each by default
    rows = planner.plan(tests, budget_minutes=1, changed_pages=[], now=NOW)
    assert plans(rows) == {1: "run", 2: "run", 3: "over_budget"}


def test_empty_plan():
    assert planner.plan([], budget_minutes=5, changed_pages=[], now=NOW) == []
