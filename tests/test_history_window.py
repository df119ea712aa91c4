"""A test's history is read with one LIMIT per test and only the columns it needs (policies/history.py): over
random histories it gives the planner, the flaky scores and quarantine exactly what reading every result
in full gave them."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from unittest import mock

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from sentri import projects, testcases
from sentri.extensions import db
from sentri.models import TERMINAL_RUN_STATUSES, Project, Result, Run, TestCase
from sentri.policies import history, planner, quarantine
from tests.conftest import both_databases

START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = START + timedelta(days=30)


def full_read(test_ids: list[int], window: int = history.WINDOW) -> dict[int, list[Result]]:
    """The reading the window replaced: every executed result of the tests in finished runs, as whole rows."""
    rows = db.session.scalars(
        select(Result)
        .join(Run, Run.id == Result.run_id)
        .where(
            Result.test_id.in_(test_ids), Run.status.in_(TERMINAL_RUN_STATUSES), Result.status != "skipped"
        )
        .order_by(Result.run_id.desc())
    )
    by_test: dict[int, list[Result]] = defaultdict(list)
    for row in rows:
        if len(by_test[row.test_id]) < window:
            by_test[row.test_id].append(row)
    return by_test


# Long histories, mostly first-attempt passes, so that windows fill and quarantined tests earn a suggestion.
outcomes = st.one_of(
    st.none(),
    *[
        st.fixed_dictionaries(
            {  # None: the test was not in that run
                "status": st.sampled_from(["passed"] * 6 + ["failed", "skipped"]),
                "flaky": st.sampled_from([False] * 5 + [True]),
                "duration_ms": st.one_of(st.none(), st.integers(0, 60_000)),
                "healed": st.sampled_from([None, [], [{"step": 1}]]),
                "minute": st.one_of(
                    st.none(), st.integers(0, 59)
                ),  # started_at within the run's hour, or never
            }
        )
    ]
    * 4,
)
run = st.fixed_dictionaries(
    {
        "status": st.sampled_from([*TERMINAL_RUN_STATUSES, "completed", "completed"]),
        "results": st.lists(outcomes, min_size=3, max_size=3),
    }
)
runs = st.integers(1, 45).flatmap(lambda n: st.lists(run, min_size=n, max_size=n))  # as often long as short
tests = st.lists(
    st.fixed_dictionaries(
        {
            "flaky_score": st.sampled_from([0.0, 0.1, 0.5, 1.0]),
            "quarantined_hour": st.one_of(st.none(), st.integers(0, 45)),
            "tags": st.sampled_from([[], ["smoke"]]),
        }
    ),
    min_size=3,
    max_size=3,
)
# The newest run may still be running (a project has one active run at a time): its results never count.
running_last = st.booleans()
policies = st.fixed_dictionaries(
    {
        "autoFlakyScore": st.sampled_from([None, 0.05, 0.2, 0.5]),
        "suggestReleaseAfter": st.sampled_from([1, 2, 3, 5, 20, 25]),
    }
)


def _build(history_runs, test_specs, policy, running) -> tuple[Project, list[TestCase]]:
    project = projects.create("Shop", "https://shop.example.com")
    made = []
    for n, spec in enumerate(test_specs):
        test = testcases.create(
            project, {"name": f"Test {n}", "steps": [{"goto": f"/p/{n % 2}"}], "tags": spec["tags"]}
        )
        hour = spec["quarantined_hour"]
        test.flaky_score = spec["flaky_score"]
        test.quarantined_at = None if hour is None else START + timedelta(hours=hour)
        made.append(test)
    project.quarantine_policy = policy
    for hour, spec in enumerate(history_runs):
        status = "running" if running and hour == len(history_runs) - 1 else spec["status"]
        run_id = db.session.scalar(
            insert(Run).returning(Run.id),
            {
                "project_id": project.id,
                "status": status,
                "trigger_source": "token",
                "options": {},
                "plan": [],
                "created_at": START + timedelta(hours=hour),
            },
        )
        rows = [
            {
                "run_id": run_id,
                "test_id": test.id,
                "test_name": test.name,
                "position": position,
                "status": result["status"],
                "flaky": result["flaky"],
                "duration_ms": result["duration_ms"],
                "healed": result["healed"],
                "attempts": [],
                "started_at": None
                if result["minute"] is None
                else START + timedelta(hours=hour, minutes=result["minute"]),
            }
            for position, (test, result) in enumerate(zip(made, spec["results"], strict=True), start=1)
            if result
        ]
        if rows:
            db.session.execute(insert(Result), rows)
    db.session.flush()
    return project, made


def _decisions(project: Project, made: list[TestCase]) -> dict:
    """Everything the history decides; the oldest and the newest finished run each taken as the one that ends
    (in a savepoint rolled back after it: nothing is kept)."""
    db.session.expire_all()  # the tests as the database holds them, not as an earlier pass left them in memory
    ids = [test.id for test in made]
    seen = {"histories": history.histories(made)}
    seen["order"] = [
        entry["testId"]
        for entry in planner.plan(seen["histories"], budget_minutes=None, changed_pages=["/p/1"], now=NOW)
    ]
    seen["suggested"] = quarantine.release_suggested(project, made)
    finished = db.session.scalars(
        select(Run.id).where(Run.project_id == project.id, Run.status.in_(TERMINAL_RUN_STATUSES))
    ).all()
    for run_id in {*finished[:1], *finished[-1:]}:
        savepoint = db.session.begin_nested()
        try:
            history.update_flaky_scores(run_id)
            entered = quarantine.after_run(project, run_id, NOW)
            scores = db.session.execute(select(TestCase.id, TestCase.flaky_score).where(TestCase.id.in_(ids)))
            seen[run_id] = (dict(scores.all()), sorted(entered))
        finally:
            savepoint.rollback()
        db.session.expire_all()
    return seen


@both_databases
# No shrinking: an example of long histories takes longer to shrink than the suite's 300 s timeout allows.
@settings(
    max_examples=30,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    history_runs=runs,
    test_specs=tests,
    policy=policies,
    running=running_last,
    chunk=st.sampled_from([1, 200]),
)
def test_the_windowed_history_decides_as_the_full_read_did(
    app, chunk, history_runs, test_specs, policy, running
):
    with app.app_context():
        try:
            project, made = _build(history_runs, test_specs, policy, running)
            with mock.patch.object(history, "CHUNK", chunk):  # 1: a statement per test, their results merged
                windowed = _decisions(project, made)
            with mock.patch.object(history, "recent_results", full_read):
                full = _decisions(project, made)
            assert windowed == full
        finally:
            db.session.rollback()  # nothing of this example stays for the next
