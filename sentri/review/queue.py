"""The review queue: everything in a project that waits for a person (draft tests, pending baselines,
pending heal proposals), and the decisions on them, one at a time or in bulk.

- Approving a baseline makes it the key's baseline (the one before is superseded); rejecting keeps the
  old one, and the same picture fails as rejected from then on.
- Accepting a heal proposal changes every step of the test that uses its broken target to the new one
  (the test stays approved), unless heal_rules.py refuses the new target for those steps now; rejecting it
  stops that heal, so the test fails as it would without healing.
- A bulk decision checks every id first: one unknown id changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from .. import testcases
from ..database import write
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..models import Project, Run, TestCase, User, utcnow
from ..public_ids import get_or_404, parse_public_id
from ..testformat import TestFormatError, validate_steps
from ..timestamps import isoformat
from .heal_rules import rules_for, steps_using
from .models import Baseline, HealProposal

KINDS = {"TST": TestCase, "BSL": Baseline, "HEA": HealProposal}
DECISIONS = {"approve": "approve", "accept": "approve", "reject": "reject"}
MAX_BULK = 500


def _actor(user: User | None) -> str:
    return user.public_id if user is not None else "cli"


def approve_baseline(row: Baseline, user: User | None) -> None:
    if row.status != "pending":
        raise Conflict(f"{row.public_id} is {row.status}, not waiting for review.")
    db.session.execute(
        update(Baseline)
        .where(
            Baseline.test_id == row.test_id,
            Baseline.name == row.name,
            Baseline.browser == row.browser,
            Baseline.device == row.device,
            Baseline.viewport == row.viewport,
            Baseline.status == "approved",
        )
        .values(status="superseded")
    )
    row.status, row.reviewed_at, row.reviewed_by = "approved", utcnow(), _actor(user)


def reject_baseline(row: Baseline, user: User | None) -> None:
    if row.status != "pending":
        raise Conflict(f"{row.public_id} is {row.status}, not waiting for review.")
    row.status, row.reviewed_at, row.reviewed_by = "rejected", utcnow(), _actor(user)


def accept_heal(row: HealProposal, user: User | None) -> None:
    if row.status != "pending":
        raise Conflict(f"{row.public_id} is {row.status}, not waiting for review.")
    test = db.session.get(TestCase, row.test_id)
    steps = [dict(step) for step in test.steps]
    using = steps_using(steps, row.old_target)
    if not using:
        row.status = "stale"
        raise Conflict(
            f"{row.public_id} no longer applies: no step of {test.public_id} has its old target since "
            "the test changed."
        )
    refusal = rules_for(steps, row.old_target).refusal(row.new_target)
    if refusal:  # stored before these rules, or a step using the target was added since
        raise Conflict(f"{row.public_id} cannot be applied: {refusal}.")
    for index in using:
        steps[index - 1]["target"] = row.new_target
    try:  # the new target came from a web page: it must be a target the test format accepts
        steps = validate_steps(steps, f"test {test.public_id}")
    except TestFormatError as exc:
        raise Conflict(f"{row.public_id} cannot be applied: {exc}") from None
    test.steps, test.updated_at = steps, utcnow()  # still approved: a person just chose this target
    for other in db.session.scalars(
        select(HealProposal).where(
            HealProposal.test_id == row.test_id, HealProposal.status == "pending", HealProposal.id != row.id
        )
    ):
        if other.old_target == row.old_target:  # made for the same broken target: it no longer applies
            other.status = "stale"
    row.status, row.reviewed_at, row.reviewed_by = "accepted", utcnow(), _actor(user)


def reject_heal(row: HealProposal, user: User | None) -> None:
    if row.status != "pending":
        raise Conflict(f"{row.public_id} is {row.status}, not waiting for review.")
    row.status, row.reviewed_at, row.reviewed_by = "rejected", utcnow(), _actor(user)


def decide(project: Project, public_id: str, decision: str, user: User | None) -> Any:
    """Approve (accept) or reject one item of the queue by its id; return the row."""
    with write():
        row = _decide(project, public_id, decision, user)
    return row


def _decide(project: Project, public_id: str, decision: str, user: User | None) -> Any:
    model = _model_of(public_id)
    row = get_or_404(model, public_id, project=project)
    approve = DECISIONS[decision] == "approve"
    if model is TestCase:
        testcases.mark_reviewed(row, "approve" if approve else "reject", user)
    elif model is Baseline:
        (approve_baseline if approve else reject_baseline)(row, user)
    else:
        (accept_heal if approve else reject_heal)(row, user)
    return row


def _model_of(public_id: object) -> type:
    prefix = public_id.split("-", 1)[0] if isinstance(public_id, str) else ""
    if prefix not in KINDS or parse_public_id(prefix, public_id) is None:
        raise NotFound(f"{public_id} is not an item of the review queue (a TST-, BSL- or HEA- id).")
    return KINDS[prefix]


@dataclass(frozen=True)
class Bulk:
    approve: list[str]
    reject: list[str]


def parse_bulk(body: dict) -> Bulk:
    """Read {"approve": [ids], "reject": [ids]}; every problem at once, nothing decided."""
    problems, lists = [], {}
    for field in ("approve", "reject"):
        value = body.get(field, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            problems.append((field, "must be a list of ids like TST-1, BSL-2, HEA-3"))
            value = []
        lists[field] = value
    unknown = sorted(set(body) - {"approve", "reject"})
    if unknown:
        problems.append((None, f"unknown field(s) {', '.join(unknown)} (allowed: approve, reject)"))
    both = set(lists["approve"]) & set(lists["reject"])
    if both:
        problems.append((None, f"{', '.join(sorted(both))} cannot be approved and rejected at once"))
    if not problems and not (lists["approve"] or lists["reject"]):
        problems.append((None, "name at least one id in approve or reject"))
    if len(lists["approve"]) + len(lists["reject"]) > MAX_BULK:
        problems.append((None, f"at most {MAX_BULK} ids at once"))
    if problems:
        raise ValidationFailed.on_each(problems)
    return Bulk(list(dict.fromkeys(lists["approve"])), list(dict.fromkeys(lists["reject"])))


def decide_all(project: Project, bulk: Bulk, user: User | None) -> dict[str, list[str]]:
    """Apply a bulk decision in one transaction: all of it, or (on any unknown or decided id) none."""
    with write():
        for public_id in bulk.approve:
            _decide(project, public_id, "approve", user)
        for public_id in bulk.reject:
            _decide(project, public_id, "reject", user)
    return {"approved": bulk.approve, "rejected": bulk.reject}


# -- the queue --------------------------------------------------------------------------------------------


def counts(project: Project) -> dict[str, int]:
    """How many items wait, per kind, and in all: the project header shows them."""
    drafts = db.session.scalar(
        select(func.count())
        .select_from(TestCase)
        .where(TestCase.project_id == project.id, TestCase.review_status == "draft")
    )
    baselines = db.session.scalar(
        select(func.count())
        .select_from(Baseline)
        .where(Baseline.project_id == project.id, Baseline.status == "pending")
    )
    heals = db.session.scalar(
        select(func.count())
        .select_from(HealProposal)
        .where(HealProposal.project_id == project.id, HealProposal.status == "pending")
    )
    return {"tests": drafts, "baselines": baselines, "heals": heals, "total": drafts + baselines + heals}


def pending(project: Project, limit: int = 100) -> tuple[list[Baseline], list[HealProposal]]:
    baselines = db.session.scalars(
        select(Baseline)
        .where(Baseline.project_id == project.id, Baseline.status == "pending")
        .order_by(Baseline.id)
        .limit(limit)
    ).all()
    heals = db.session.scalars(
        select(HealProposal)
        .where(HealProposal.project_id == project.id, HealProposal.status == "pending")
        .order_by(HealProposal.id)
        .limit(limit)
    ).all()
    return list(baselines), list(heals)


def serialize_baseline(row: Baseline, image_url, crop_url=None) -> dict[str, Any]:
    """The API form of a baseline; `image_url(sha)` names a picture's address, `crop_url(row, which)` that of
    the expected or actual picture cut to the changed area."""
    expected = db.session.get(Baseline, row.compared_with_id) if row.compared_with_id else None
    return {
        "id": row.public_id,
        "kind": "baseline",
        "status": row.status,
        "testId": TestCase.format_id(row.test_id),
        "name": row.name,
        "step": row.step,
        "browser": row.browser,
        "device": row.device,
        "viewport": row.viewport,
        "change": "changed" if expected is not None else "new",
        "imageUrl": image_url(row.sha256),
        "expectedId": expected.public_id if expected else None,
        "expectedUrl": image_url(expected.sha256) if expected else None,
        "diffUrl": image_url(row.diff_sha256) if row.diff_sha256 else None,
        "diffRatio": row.diff_ratio,
        # Where the changed pixels are ([left, top, right, bottom], right and bottom exclusive), and the two
        # pictures cut to that area and a margin; None for a new picture, or one recorded before boxes were.
        "diffBox": row.diff_box if expected is not None else None,
        "crop": (
            {"expectedUrl": crop_url(row, "expected"), "actualUrl": crop_url(row, "actual")}
            if expected is not None and row.diff_box and crop_url
            else None
        ),
        "runId": Run.format_id(row.run_id),
        "createdAt": isoformat(row.created_at),
        "reviewedAt": isoformat(row.reviewed_at),
        "reviewedBy": row.reviewed_by,
    }


def serialize_heal(row: HealProposal) -> dict[str, Any]:
    """The API form of a heal proposal; `steps` are the ones accepting it would change now."""
    test = db.session.get(TestCase, row.test_id)
    return {
        "id": row.public_id,
        "kind": "heal",
        "status": row.status,
        "testId": TestCase.format_id(row.test_id),
        "step": row.step,
        "steps": steps_using(test.steps, row.old_target) if test else [],
        "from": row.old_target,
        "to": row.new_target,
        "seen": row.seen,
        "runId": Run.format_id(row.run_id),
        "createdAt": isoformat(row.created_at),
        "reviewedAt": isoformat(row.reviewed_at),
        "reviewedBy": row.reviewed_by,
    }


def listing(project: Project, image_url, crop_url=None) -> dict[str, Any]:
    """The whole queue in its API form."""
    drafts, _ = testcases.list_for(project, status="draft", limit=100)
    baselines, heals = pending(project)
    return {
        "counts": counts(project),
        "tests": [testcases.serialize(test) for test in drafts],
        "baselines": [serialize_baseline(row, image_url, crop_url) for row in baselines],
        "heals": [serialize_heal(row) for row in heals],
    }
