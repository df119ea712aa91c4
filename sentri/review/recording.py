"""What a finished test leaves for review, written in the transaction that stores its result.

- A screenshot with no approved baseline, or one that changed, becomes the key's *pending* baseline (one
  per key: a newer picture replaces it; the same picture again changes nothing).
- The healed steps of a passing test become (or count again on) one pending heal proposal per broken
  target: the steps sharing a target heal the same way, and accepting the proposal changes them all. A
  target heal_rules.py refuses is not stored, whatever the worker sent. A failing test makes none and
  withdraws the ones waiting: its run is no evidence that they find the right element. A result that healed
  grows the test's heal count either way.
- A passing test's element descriptions become its locator hints, for the next run to heal from.
  Page text in both is kept within hints.MAX_HINT_CHARS (a longer value is left out, a longer heal dropped).

And what a worker needs back when it builds a job (for_job)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from ..extensions import db
from ..models import Run, TestCase, utcnow
from ..timestamps import isoformat
from ..visual import crop
from .heal_rules import key, rules_for, steps_using
from .hints import clean, within_limit
from .models import Baseline, HealProposal

KEPT_REJECTED = 50  # rejected pictures per screenshot a worker still recognises as rejected
# Describing each target's element costs a round trip per step (a few ms: several per cent of a short test),
# so a test's elements are described again only when its steps changed or its hints are this old.
HINTS_REFRESH = timedelta(hours=24)


def steps_hash(steps: list[dict]) -> str:
    """Name a version of a test's steps: hints recorded for other steps do not apply."""
    return hashlib.sha256(json.dumps(steps, sort_keys=True).encode()).hexdigest()[:16]


def _project_and_run(run_id: int) -> tuple[int, str, str]:
    row = db.session.execute(select(Run.project_id, Run.options).where(Run.id == run_id)).one()
    options = row.options or {}
    return row.project_id, options.get("browserProfile") or "chromium", options.get("device") or "desktop"


def record(
    run_id: int,
    test_id: int,
    status: str,
    snapshots: list[dict] | None,
    healed: list[dict] | None,
    hints: dict | None,
) -> bool:
    """Turn a result's snapshots, heals and hints into rows; return whether the entries gained ids."""
    test = db.session.get(TestCase, test_id)
    if test is None:
        return False
    changed = False
    if snapshots:
        project_id, browser, device = _project_and_run(run_id)
        for entry in snapshots:
            changed |= _baseline(entry, test, run_id, project_id, browser, device)
    if status == "failed" and test.heal_count:
        _withdraw(test, run_id)
    elif healed and status == "passed":
        changed |= _proposals(healed, test, run_id)
    if healed:
        test.heal_count = (test.heal_count or 0) + 1
    if hints and status == "passed":
        _hints(test, hints)
    return changed


def _baseline(entry: dict, test: TestCase, run_id: int, project_id: int, browser: str, device: str) -> bool:
    if entry.get("status") not in ("new", "changed", "rejected"):
        return False
    key = (
        Baseline.test_id == test.id,
        Baseline.name == entry["name"],
        Baseline.browser == browser,
        Baseline.device == device,
        Baseline.viewport == entry["viewport"],
    )
    if entry["status"] == "rejected":
        row = db.session.scalar(
            select(Baseline)
            .where(*key, Baseline.status == "rejected", Baseline.sha256 == entry["sha256"])
            .limit(1)
        )
    else:
        row = db.session.scalar(select(Baseline).where(*key, Baseline.status == "pending").limit(1))
        if row is None:
            row = Baseline(
                project_id=project_id,
                test_id=test.id,
                name=entry["name"],
                browser=browser,
                device=device,
                viewport=entry["viewport"],
                status="pending",
            )
            db.session.add(row)
        if row.sha256 != entry["sha256"]:
            row.sha256, row.step, row.run_id, row.created_at = (
                entry["sha256"],
                entry["step"],
                run_id,
                utcnow(),
            )
            row.compared_with_id = entry.get("baselineId") if entry["status"] == "changed" else None
            row.diff_sha256 = entry.get("diffSha256")
            row.diff_ratio = entry.get("ratio") if entry["status"] == "changed" else None
            row.diff_box = crop.sound_box(entry.get("box")) if entry["status"] == "changed" else None
        db.session.flush()
    if row is None:
        return False
    entry["candidateId"] = row.id
    return True


def _proposals(entries: list[dict], test: TestCase, run_id: int) -> bool:
    """One proposal per broken target, for all the healed steps that share it."""
    groups: dict[str, list[dict]] = {}
    for entry in entries:
        index = entry.get("step")
        if isinstance(index, int) and 1 <= index <= len(test.steps) and "target" in test.steps[index - 1]:
            groups.setdefault(key(test.steps[index - 1]["target"]), []).append(entry)
    waiting = list(
        db.session.scalars(
            select(HealProposal)
            .where(HealProposal.test_id == test.id, HealProposal.status == "pending")
            .order_by(HealProposal.id)
        )
    )
    changed = False
    for group in groups.values():
        changed |= _proposal(group, test, run_id, waiting)
    return changed


def _proposal(group: list[dict], test: TestCase, run_id: int, waiting: list[HealProposal]) -> bool:
    old = test.steps[group[0]["step"] - 1][
        "target"
    ]  # as written, {{NAME}} and all: never a substituted secret
    new = group[-1].get("to")  # the newest way to find the element wins
    if not isinstance(new, dict) or not within_limit(new):
        return False  # page text too long to be an exact locator: not a heal a person should accept
    if rules_for(test.steps, old).refusal(new):
        return False  # a count, an assertion's own text, a lost position: not a heal to offer
    first = min(entry["step"] for entry in group)
    row = next((row for row in waiting if row.old_target == old), None)
    if row is None:
        row = HealProposal(
            project_id=test.project_id,
            test_id=test.id,
            step=first,
            old_target=old,
            new_target=new,
            status="pending",
            seen=0,
        )
        db.session.add(row)
        waiting.append(row)
    elif row.new_target != new:
        row.new_target, row.seen = new, 0
    row.step, row.run_id, row.seen = first, run_id, row.seen + 1
    db.session.flush()
    for entry in group:
        entry["from"], entry["proposalId"] = old, row.id
    return True


def _withdraw(test: TestCase, run_id: int) -> None:
    db.session.execute(
        update(HealProposal)
        .where(
            HealProposal.test_id == test.id,
            HealProposal.status == "pending",
        )
        .values(status="withdrawn", reviewed_at=utcnow(), reviewed_by=Run.format_id(run_id))
    )


def _hints(test: TestCase, hints: dict) -> None:
    version = steps_hash(test.steps)
    if hints.get("steps") != version:  # the test was edited while it ran
        return
    current = test.locator_hints if (test.locator_hints or {}).get("steps") == version else {"hints": {}}
    merged = {**current.get("hints", {}), **{str(k): v for k, v in hints.get("hints", {}).items()}}
    merged = {step: described for step, value in merged.items() if (described := clean(value))}
    test.locator_hints = {"steps": version, "at": isoformat(utcnow()), "hints": merged}


def _hints_due(hints: dict, version: str) -> bool:
    """Whether the next passing run should describe the test's elements again."""
    if hints.get("steps") != version or not hints.get("at"):
        return True
    try:
        return utcnow() - datetime.fromisoformat(hints["at"].replace("Z", "+00:00")) > HINTS_REFRESH
    except ValueError:
        return True


def for_job(test: TestCase, browser: str, device: str, heal: bool) -> dict[str, Any]:
    """The TestJob fields a test's screenshots and heals need (queried only when the test has them)."""
    fields: dict[str, Any] = {"steps_hash": steps_hash(test.steps)}
    if any(step.get("action") == "expect_screenshot" for step in test.steps):
        rows = db.session.execute(
            select(Baseline.id, Baseline.name, Baseline.viewport, Baseline.status, Baseline.sha256)
            .where(
                Baseline.test_id == test.id,
                Baseline.browser == browser,
                Baseline.device == device,
                Baseline.status.in_(("approved", "rejected")),
            )
            .order_by(Baseline.id.desc())
        ).all()
        approved, rejected = {}, {}
        for row in rows:
            name = f"{row.name}@{row.viewport}"
            if row.status == "approved":
                approved.setdefault(name, {"id": row.id, "sha256": row.sha256})
            elif len(rejected.setdefault(name, [])) < KEPT_REJECTED:
                rejected[name].append(row.sha256)
        fields.update(baselines=approved, rejected_shots=rejected)
    if heal:
        hints = test.locator_hints or {}
        fields["heal"], fields["remember"] = True, _hints_due(hints, fields["steps_hash"])
        if hints.get("steps") == fields["steps_hash"]:
            fields["hints"] = {int(k): v for k, v in (hints.get("hints") or {}).items()}
        if test.heal_count:
            # By the target each proposal heals, in the steps that use it now: one proposal serves them all.
            refused: dict[int, list[dict]] = {}
            pending: dict[int, dict] = {}
            for status, old, new in db.session.execute(
                select(HealProposal.status, HealProposal.old_target, HealProposal.new_target)
                .where(HealProposal.test_id == test.id, HealProposal.status.in_(("pending", "rejected")))
                .order_by(HealProposal.id)
            ):
                for index in steps_using(test.steps, old):
                    if status == "rejected":
                        refused.setdefault(index, []).append(new)
                    else:
                        pending[index] = new
            fields["heal_refused"], fields["heal_pending"] = refused, pending
    return fields
