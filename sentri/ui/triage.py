"""A run's page, built for triage: its results failures first (or only one kind of them), each failure in
parts, and what the end of the run changed. The verdict's reasons are in verdict.py, the page-level Web
Vitals table in vitals_table.py."""

from __future__ import annotations

from sqlalchemy import and_, case, false, func, not_, select, true

from ..extensions import db
from ..models import Result, Run, TestCase
from ..policies import quarantine
from ..review.models import Baseline, HealProposal
from ..states import ResultStatus
from .failures import explain

# What the filter offers, in the order a person triages: each kind of result and the rows it is.
KINDS = {
    "failed": and_(Result.status == ResultStatus.FAILED, Result.quarantined == false()),
    "flaky": and_(
        Result.status == ResultStatus.PASSED, Result.flaky == true(), Result.quarantined == false()
    ),
    "quarantined": and_(
        Result.quarantined == true(), Result.status.in_((ResultStatus.PASSED, ResultStatus.FAILED))
    ),
    "passed": and_(
        Result.status == ResultStatus.PASSED, Result.flaky == false(), Result.quarantined == false()
    ),
    "skipped": Result.status == ResultStatus.SKIPPED,
    "waiting": Result.status.in_((ResultStatus.QUEUED, ResultStatus.RUNNING)),
}
KIND_WORDS = {
    "failed": "Failed",
    "flaky": "Flaky",
    "quarantined": "Quarantined",
    "passed": "Passed",
    "skipped": "Not run",
    "waiting": "Waiting",
}
# Failures first, then what passed only on a retry, what does not count, what is still going, the rest.
_ORDER = case(*((condition, rank) for rank, condition in enumerate(KINDS.values())), else_=len(KINDS))


def kind_of(result: Result) -> str:
    """Which of KINDS a result is."""
    if result.status in ("queued", "running"):
        return "waiting"
    if result.status == ResultStatus.SKIPPED:
        return "skipped"
    if result.quarantined:
        return "quarantined"
    if result.status == ResultStatus.FAILED:
        return "failed"
    return "flaky" if result.flaky else "passed"


def shown_kind(raw: str | None) -> str | None:
    """Read ?show= leniently: anything but a kind shows every result."""
    return raw if raw in KINDS else None


def counts(run: Run) -> dict[str, int]:
    """How many of the run's results are of each kind (one query)."""
    columns = [func.sum(case((condition, 1), else_=0)) for condition in KINDS.values()]
    row = db.session.execute(select(*columns).where(Result.run_id == run.id)).one()
    return {kind: int(n or 0) for kind, n in zip(KINDS, row, strict=True)}


def results(run: Run, kind: str | None, offset: int, limit: int) -> list[Result]:
    """One page of the run's results of this kind (every kind when None), failures first."""
    query = select(Result).where(Result.run_id == run.id)
    if kind:
        query = query.where(KINDS[kind])
    return list(db.session.scalars(query.order_by(_ORDER, Result.position).offset(offset).limit(limit)))


def failure(result: Result, test: TestCase | None) -> dict:
    """A failed result told in parts: the step (and its text in the test), the sentence, expected and received."""
    told = explain(result.error, result.failing_step)
    step_text = None
    if test is not None and told.step and 1 <= told.step <= len(test.steps):
        step_text = test.steps[told.step - 1]
    return {"told": told, "step": step_text}


def changes(run: Run) -> dict[str, list]:
    """What the end of the run left behind: tests it put in quarantine, heals and screenshots it proposed."""
    if run.is_active:
        return {"quarantined": [], "heals": [], "baselines": []}
    heals = db.session.execute(
        select(HealProposal, TestCase.name)
        .join(TestCase, TestCase.id == HealProposal.test_id)
        .where(HealProposal.run_id == run.id)
        .order_by(HealProposal.id)
    ).all()
    baselines = db.session.execute(
        select(Baseline, TestCase.name)
        .join(TestCase, TestCase.id == Baseline.test_id)
        .where(Baseline.run_id == run.id, not_(Baseline.status == "superseded"))
        .order_by(Baseline.id)
    ).all()
    return {"quarantined": quarantine.made_by_run(run), "heals": list(heals), "baselines": list(baselines)}
