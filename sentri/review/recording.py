"""What a finished test leaves for review, written in the transaction that stores its result.

- A screenshot with no approved baseline, or one that changed, becomes the key's *pending* baseline (one
  per key: a newer picture replaces it; the same picture again changes nothing).
- A healed step becomes (or counts again on) the step's pending heal proposal; the test's heal count grows.
- A passing test's element descriptions become its locator hints, for the next run to heal from.
  Page text in both is kept within hints.MAX_HINT_CHARS (a longer value is left out, a longer heal dropped).

And what a worker needs back when it builds a job (for_job)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import Run, TestCase, utcnow
from ..timestamps import isoformat
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


def record(run_id: int, test_id: int, status: str, snapshots: list[dict] | None, healed: list[dict] | None,
           hints: dict | None) -> bool:
    """Turn a result's snapshots, heals and hints into rows; return whether the entries gained ids."""
    test = db.session.get(TestCase, test_id)
    if test is None:
        return False
    changed = False
    if snapshots:
        project_id, browser, device = _project_and_run(run_id)
        for entry in snapshots:
            changed |= _baseline(entry, test, run_id, project_id, browser, device)
    if healed:
        for entry in healed:
            changed |= _proposal(entry, test, run_id)
        test.heal_count = (test.heal_count or 0) + 1
    if hints and status == "passed":
        _hints(test, hints)
    return changed


def _baseline(entry: dict, test: TestCase, run_id: int, project_id: int, browser: str, device: str) -> bool:
    if entry.get("status") not in ("new", "changed", "rejected"):
        return False
    key = (Baseline.test_id == test.id, Baseline.name == entry["name"], Baseline.browser == browser,
           Baseline.device == device, Baseline.viewport == entry["viewport"])
    if entry["status"] == "rejected":
        row = db.session.scalar(select(Baseline).where(*key, Baseline.status == "rejected",
                                                       Baseline.sha256 == entry["sha256"]).limit(1))
    else:
        row = db.session.scalar(select(Baseline).where(*key, Baseline.status == "pending").limit(1))
        if row is None:
            row = Baseline(project_id=project_id, test_id=test.id, name=entry["name"], browser=browser,
                           device=device, viewport=entry["viewport"], status="pending")
            db.session.add(row)
        if row.sha256 != entry["sha256"]:
            row.sha256, row.step, row.run_id, row.created_at = entry["sha256"], entry["step"], run_id, utcnow()
            row.compared_with_id = entry.get("baselineId") if entry["status"] == "changed" else None
            row.diff_sha256 = entry.get("diffSha256")
            row.diff_ratio = entry.get("ratio") if entry["status"] == "changed" else None
        db.session.flush()
    if row is None:
        return False
    entry["candidateId"] = row.id
    return True


def _proposal(entry: dict, test: TestCase, run_id: int) -> bool:
    index = entry.get("step")
    if not isinstance(index, int) or not 1 <= index <= len(test.steps) or "target" not in test.steps[index - 1]:
        return False
    if not isinstance(entry.get("to"), dict) or not within_limit(entry["to"]):
        return False  # page text too long to be an exact locator: not a heal a person should accept
    old = test.steps[index - 1]["target"]  # as written, {{NAME}} and all: never a substituted secret
    row = db.session.scalar(select(HealProposal).where(
        HealProposal.test_id == test.id, HealProposal.step == index, HealProposal.status == "pending").limit(1))
    if row is None:
        row = HealProposal(project_id=test.project_id, test_id=test.id, step=index, old_target=old,
                           new_target=entry["to"], status="pending", seen=0)
        db.session.add(row)
    elif row.new_target != entry["to"]:  # the newest way to find the element wins
        row.new_target, row.seen = entry["to"], 0
    row.old_target, row.run_id, row.seen = old, run_id, row.seen + 1
    db.session.flush()
    entry["from"], entry["proposalId"] = old, row.id
    return True


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
            .where(Baseline.test_id == test.id, Baseline.browser == browser, Baseline.device == device,
                   Baseline.status.in_(("approved", "rejected")))
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
            refused: dict[int, list[dict]] = {}
            for step, target in db.session.execute(select(HealProposal.step, HealProposal.new_target).where(
                    HealProposal.test_id == test.id, HealProposal.status == "rejected")):
                refused.setdefault(step, []).append(target)
            fields["heal_refused"] = refused
    return fields
