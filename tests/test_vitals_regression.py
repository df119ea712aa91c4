"""The Web Vitals regression gate's judgement, on samples given as numbers: the thresholds and alpha each
decide, no baseline is never a failure, advisory never fails. Real runs are in test_vitals_regression_runs."""

from __future__ import annotations

import random

import pytest

from sentri import projects, testcases
from sentri.database import write
from sentri.policies import regression
from sentri.reports.serialize import verdict
from sentri.runs.options import parse_options
from tests.conftest import both_databases
from tests.support.runs import recorded_run

LCP = {"lcp": {"maxIncreasePct": 10, "minIncreaseMs": 100}}
URL = "http://127.0.0.1:9/paced"


def _page(lcp_samples, test_id="TST-1", url=URL):
    return {
        "testId": test_id,
        "testName": "paced",
        "url": url,
        "lcp": sorted(lcp_samples)[len(lcp_samples) // 2],
        "samples": {"lcp": list(lcp_samples)},
    }


def _baseline(runs=5, around=500, jitter=50, seed=1):
    rng = random.Random(seed)
    return [_page([around + rng.uniform(-jitter, jitter) for _ in range(5)]) for _ in range(runs)]


def _runs(count):
    return [f"RUN-{n}" for n in range(count, 0, -1)]


def _judge(config, current, baseline=None, runs=5):
    return regression.evaluate(config, [current], _baseline() if baseline is None else baseline, _runs(runs))


def test_a_page_300_ms_slower_over_5_samples_is_flagged_with_its_evidence():
    found = _judge(LCP, _page([800, 790, 812, 805, 795]))
    assert found["status"] == "evaluated" and found["compared"] == 1
    (finding,) = found["findings"]
    assert finding["rule"] == "lcp_regression" and finding["actual"] == 800
    assert 450 < finding["baseline"] < 550 and finding["threshold"] == finding["baseline"] + 100
    assert finding["pValue"] < 0.001 and (finding["samples"], finding["baselineSamples"]) == (5, 25)
    assert (finding["testId"], finding["url"]) == ("TST-1", URL)


def test_each_threshold_and_alpha_alone_can_clear_a_real_slowdown():
    slower = _page([700, 690, 712, 705, 695])  # +200 ms, +40 %
    assert _judge(LCP, slower)["findings"]
    assert not _judge({"lcp": {"maxIncreasePct": 10, "minIncreaseMs": 250}}, slower)["findings"]
    assert not _judge({"lcp": {"maxIncreasePct": 50, "minIncreaseMs": 100}}, slower)["findings"]
    # Two samples against 25: p = 1/325 at best; an alpha below it clears the same slowdown.
    two = _page([700, 710])
    p = _judge(LCP, two)["findings"][0]["pValue"]
    assert p < 0.01
    assert not _judge({**LCP, "alpha": p / 2}, two)["findings"]


def test_one_sample_proves_little_against_five_but_passes_alpha_against_25():
    one = {"testId": "TST-1", "testName": "paced", "url": URL, "lcp": 5000}
    five = [{"testId": "TST-1", "url": URL, "lcp": 500 + i} for i in range(5)]
    found = regression.evaluate(LCP, [one], five, _runs(5))
    assert found["compared"] == 1 and found["findings"] == []  # p = 1/6 > 0.05
    # 25 distinct baseline samples (5 runs of 5): one reading above them all has p = 1/26 = 0.038 < 0.05.
    twenty_five = [_page([500 + 5 * run + i for i in range(5)]) for run in range(5)]
    (finding,) = regression.evaluate(LCP, [one], twenty_five, _runs(5))["findings"]
    assert finding["pValue"] == pytest.approx(1 / 26, rel=1e-3) == pytest.approx(regression.smallest_p(1, 25))


@pytest.mark.parametrize(("n", "m"), [(1, 5), (1, 20), (1, 25), (2, 10), (5, 15), (5, 25), (8, 45)])
def test_the_smallest_p_is_one_over_n_plus_m_choose_n_without_ties(n, m):
    """What the README and the settings card state: every sample above every baseline sample, no ties."""
    p = regression.p_value([1000.0 + i for i in range(n)], [float(i) for i in range(m)])
    assert p == pytest.approx(regression.smallest_p(n, m))


def test_no_baseline_is_not_evaluated_and_never_fails():
    found = _judge(LCP, _page([5000] * 5), baseline=[], runs=0)
    assert found["status"] == "not evaluated" and "first ones are the baseline" in found["reason"]
    assert regression.combine(None, found)["passed"] is True
    other_page = _judge(LCP, _page([5000] * 5, url="http://127.0.0.1:9/new"))
    assert other_page["status"] == "not evaluated" and other_page["notEvaluated"][0]["metric"] == "lcp"


def test_jitter_without_a_change_is_not_flagged():
    rng = random.Random(7)
    flagged = sum(
        bool(_judge(LCP, _page([500 + rng.uniform(-50, 50) for _ in range(5)]))["findings"])
        for _ in range(200)
    )
    assert flagged == 0  # the medians of ±50 ms jitter never differ by the 100 ms minimum


def test_a_preview_deploy_compares_with_the_baseline_by_path():
    found = _judge(LCP, _page([900] * 5, url="https://pr-7.preview.example.com/paced"))
    assert found["findings"] and found["findings"][0]["url"] == "https://pr-7.preview.example.com/paced"


def test_cls_uses_its_own_unitless_minimum_and_ties_are_no_evidence():
    config = {"cls": {"maxIncreasePct": 10, "minIncrease": 0.05}}
    zeros = [{"testId": "TST-1", "url": URL, "cls": 0, "samples": {"cls": [0, 0, 0]}} for _ in range(5)]
    assert (
        regression.evaluate(
            config, [{"testId": "TST-1", "url": URL, "cls": 0, "samples": {"cls": [0] * 5}}], zeros, _runs(5)
        )["findings"]
        == []
    )
    shifted = {"testId": "TST-1", "url": URL, "cls": 0.2, "samples": {"cls": [0.2, 0.21, 0.19, 0.2, 0.2]}}
    (finding,) = regression.evaluate(config, [shifted], zeros, _runs(5))["findings"]
    assert finding["rule"] == "cls_regression" and finding["increasePct"] is None  # from a zero baseline


def test_enforce_adds_violations_the_seed_script_reads_and_advisory_only_reports():
    found = _judge(LCP, _page([800] * 5))
    enforced = regression.combine({"passed": True, "violations": []}, found)
    assert enforced["passed"] is False and enforced["violations"][0]["rule"] == "lcp_regression"
    assert {"actual", "threshold", "baseline", "pValue", "testName"} <= set(enforced["violations"][0])
    advisory = regression.combine(None, _judge({**LCP, "mode": "advisory"}, _page([800] * 5)))
    assert advisory["passed"] is True and advisory["violations"] == []
    assert advisory["regression"]["findings"][0]["rule"] == "lcp_regression"


@both_databases
def test_a_recorded_run_is_judged_against_the_baseline_branch_only(app):
    with app.app_context():
        project = projects.create("Paced", "http://127.0.0.1:9")
        test = testcases.review(
            testcases.create(project, {"name": "paced", "steps": [{"goto": "/paced"}]}), "approve"
        )
        with write():
            project.vitals_regression = {**LCP, "baselineRuns": 3}

        def run(samples, **body):
            vitals = [
                {
                    "url": URL,
                    "lcp": sorted(samples)[2],
                    "cls": 0,
                    "inp": None,
                    "ttfb": 5,
                    "samples": {"lcp": samples},
                }
            ]
            return recorded_run(
                project,
                [{"test_id": test.id, "status": "passed", "vitals": vitals}],
                options=parse_options(body),
            )

        first = run([500, 510, 490, 505, 495])
        assert first.vitals_result["regression"]["status"] == "not evaluated" and verdict(first) == "passed"
        run([900] * 5, branch="feature/slow")  # another branch: never part of the baseline
        for _ in range(2):
            run([500, 510, 490, 505, 495], branch="refs/heads/main")
        slow = run([800, 810, 790, 805, 795], branch="feature/x", commitSha="abc1234")
        assert (slow.branch, slow.commit_sha) == ("feature/x", "abc1234")
        result = slow.vitals_result
        assert result["regression"]["baselineRuns"] == 3 and result["passed"] is False
        assert result["violations"][0]["baseline"] == 500 and verdict(slow) == "failed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lcp": 10}, "lcp"),
        ({"lcp": {"maxIncreasePct": -1}}, "lcp.maxIncreasePct"),
        ({"lcp": {"minIncrease": 1}}, "lcp"),
        ({"cls": {"minIncrease": 2}}, "cls.minIncrease"),
        ({"alpha": 0}, "alpha"),
        ({"alpha": True}, "alpha"),
        ({"baselineRuns": 2.5}, "baselineRuns"),
        ({"mode": "strict"}, "mode"),
        ({"baselineBranch": "a b"}, "baselineBranch"),
        ({"vitalsSamples": 10}, "vitalsSamples"),
        ({"inp": {}}, "inp"),
    ],
)
def test_settings_refuse_bad_values_by_name(client, project, admin_headers, body, field):
    response = client.patch(
        f"/api/v1/projects/{project['id']}/vitals-regression", json=body, headers=admin_headers
    )
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]


def test_settings_fill_a_rules_defaults_and_only_admins_change_them(
    client, project, admin_headers, member_headers
):
    url = f"/api/v1/projects/{project['id']}/vitals-regression"
    assert client.patch(url, json={"lcp": {}}, headers=member_headers).status_code == 403
    saved = client.patch(
        url,
        json={
            "lcp": {"maxIncreasePct": 20},
            "mode": "advisory",
            "vitalsSamples": 5,
            "baselineBranch": "refs/heads/trunk",
        },
        headers=admin_headers,
    ).get_json()
    assert saved["lcp"] == {"maxIncreasePct": 20, "minIncreaseMs": 100}
    assert (saved["mode"], saved["vitalsSamples"], saved["baselineBranch"]) == ("advisory", 5, "trunk")
    cleared = client.patch(url, json={"lcp": None, "mode": None}, headers=admin_headers).get_json()
    assert cleared["lcp"] is None and cleared["mode"] is None and cleared["vitalsSamples"] == 5
    assert client.get(url, headers=member_headers).get_json() == cleared


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"branch": "has space"}, "branch"),
        ({"branch": 3}, "branch"),
        ({"commitSha": "xyz"}, "commitSha"),
        ({"commitSha": "abc"}, "commitSha"),
        ({"dialsConfig": {"vitalsSamples": "five"}}, "vitalsSamples"),
    ],
)
def test_trigger_fields_for_history_are_validated(body, field):
    from sentri.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        parse_options(body)
    assert field in refused.value.message


def test_trigger_fields_for_history_are_normalised_and_samples_clamped():
    options = parse_options(
        {
            "branch": "refs/heads/main",
            "githubRepo": "o/r",
            "githubCommitSha": "A" * 40,
            "dialsConfig": {"vitalsSamples": 40},
        }
    )
    assert (options.branch, options.commit_sha, options.vitals_samples) == ("main", "a" * 40, 9)
    assert (
        parse_options({"commitSha": "ABCDEF1", "githubRepo": "o/r", "githubCommitSha": "b" * 40}).commit_sha
        == "abcdef1"
    )
