"""The Web Vitals regression gate's baseline: which earlier runs a run's pages are judged against, and the
pin a person sets.

Unpinned, a run's baseline is the project's newest `baselineRuns` completed runs before it on
`baselineBranch` (a run that named no branch counts as on it), on the same browser and device. A run the
gate found a regression in (enforce or advisory) is left out (`excludeRegressedRuns`, default true): a
slowdown pushed to the baseline branch goes on being flagged instead of becoming the baseline after two
or three pushes. At most MAX_SCANNED candidate runs are read to find them.

A pin is per browser and device. Pinned at run P, the baseline is P (whatever its branch or verdict) and
the *first* eligible runs after it, `baselineRuns` in all: once there are that many it stops moving, so
slow creep below the gate's limits cannot move it either, until someone unpins or pins another run.
Pinning a run the gate flagged accepts its level: it and the runs that follow it become the baseline.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field
from sqlalchemy import or_, select

from ..database import write
from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..models import Project, Result, Run, User, utcnow
from ..public_ids import get_or_404
from ..runs.options import DEVICES
from ..states import RunStatus
from ..timestamps import isoformat
from ..users import require_admin
from ..validation import Body, one_of, parse, text
from ..worker.browsers import ENGINES
from . import regression
from .vitals import METRICS

BATCH = 100
MAX_SCANNED = 1_000


class PinBody(Body):
    run_id: text(32) = Field(..., alias="runId")  # type: ignore[valid-type]


class Where(Body):
    browser: one_of(ENGINES) = "chromium"  # type: ignore[valid-type]
    device: one_of(DEVICES) = "desktop"  # type: ignore[valid-type]


def where(args: dict) -> tuple[str, str]:
    """The browser and device a baseline request is about (query string; chromium and desktop by default)."""
    parsed = parse(Where, {name: args[name] for name in ("browser", "device") if name in args}, empty_ok=True)
    return parsed.browser, parsed.device


def regressed(vitals_result: dict | None) -> bool:
    """Did the regression gate find a regression in this run (failing it in enforce mode)?"""
    return bool(((vitals_result or {}).get("regression") or {}).get("findings"))


def pin_of(project: Project, browser: str, device: str) -> dict | None:
    """The pin of this browser and device: {runId, pinnedBy, pinnedAt}, or None."""
    return ((project.vitals_regression or {}).get(regression.PINS) or {}).get(f"{browser}/{device}")


def runs_for(
    project: Project, browser: str, device: str, before: int | None = None
) -> tuple[list[int], int | None]:
    """The keys of the baseline runs of a run on this browser and device (started after every run below
    `before`, or now), newest first, and the pinned run's key when a pin chose them."""
    conf = regression.settings(project.vitals_regression)
    pin = pin_of(project, browser, device)
    pinned = _pinned_run(project, pin, browser, device, before)
    query = select(Run.id, Run.vitals_result).where(
        Run.project_id == project.id,
        Run.status == RunStatus.COMPLETED,
        Run.browser == browser,
        Run.device == device,
        or_(Run.branch == conf["baselineBranch"], Run.branch.is_(None)),
    )
    if before is not None:
        query = query.where(Run.id < before)
    wanted = conf["baselineRuns"]
    chosen: list[int] = []
    if pinned is not None:
        chosen.append(pinned)
        query = query.where(Run.id > pinned)
    for key in _eligible(query, newest_first=pinned is None, exclude=conf["excludeRegressedRuns"]):
        if len(chosen) >= wanted:
            break
        chosen.append(key)
    return sorted(chosen, reverse=True), pinned


def _pinned_run(
    project: Project, pin: dict | None, browser: str, device: str, before: int | None
) -> int | None:
    key = Run.key_of((pin or {}).get("runId"))
    if key is None or (before is not None and key >= before):
        return None  # a run older than the pinned one is not judged against it or the runs after it
    run = db.session.get(Run, key)
    ok = run is not None and run.project_id == project.id and run.status == RunStatus.COMPLETED
    return key if ok and (run.browser, run.device) == (browser, device) else None


def _eligible(query, *, newest_first: bool, exclude: bool) -> Iterator[int]:
    """Run keys in order, regressed runs left out when `exclude`; at most MAX_SCANNED runs are read."""
    last, scanned = None, 0
    while scanned < MAX_SCANNED:
        page = query if last is None else query.where(Run.id < last if newest_first else Run.id > last)
        rows = db.session.execute(page.order_by(Run.id.desc() if newest_first else Run.id).limit(BATCH)).all()
        for key, result in rows:
            if not (exclude and regressed(result)):
                yield key
        scanned += len(rows)
        if len(rows) < BATCH:
            return
        last = rows[-1][0]


def combos(project: Project) -> list[tuple[str, str]]:
    """The browsers and devices the project has completed runs on or a pin for (Chromium desktop at least)."""
    ran = db.session.execute(
        select(Run.browser, Run.device)
        .where(Run.project_id == project.id, Run.status == RunStatus.COMPLETED)
        .distinct()
    ).all()
    pinned = [
        tuple(key.split("/", 1)) for key in ((project.vitals_regression or {}).get(regression.PINS) or {})
    ]
    return sorted({("chromium", "desktop"), *((b, d) for b, d in ran), *pinned})


def describe(project: Project, browser: str, device: str) -> dict[str, Any]:
    """What a run starting now on this browser and device would be judged against."""
    conf = regression.settings(project.vitals_regression)
    keys, pinned = runs_for(project, browser, device)
    pin = pin_of(project, browser, device)
    return {
        "browser": browser,
        "device": device,
        "baselineBranch": conf["baselineBranch"],
        "runs": [Run.format_id(key) for key in keys],
        "minBaselineRuns": conf["minBaselineRuns"],
        "enough": len(keys) >= conf["minBaselineRuns"],
        "pinned": pin if pin is not None and pinned is not None else None,
    }


def pin(project: Project, body: object, actor: User | None) -> dict[str, Any]:
    """Pin a completed run of the project as the baseline of its browser and device (admins)."""
    require_admin(actor)
    run_id = parse(PinBody, body).run_id
    if Run.key_of(run_id) is None:
        raise ValidationFailed.on("runId", "must be a run id such as RUN-12")
    run = get_or_404(Run, run_id, project=project)
    why_not = refusal(run)
    if why_not:
        raise Conflict(why_not)
    entry = {
        "runId": run.public_id,
        "pinnedBy": actor.public_id if actor else None,
        "pinnedAt": isoformat(utcnow()),
    }
    _store(project, f"{run.browser}/{run.device}", entry)
    return describe(project, run.browser, run.device)


def refusal(run: Run) -> str | None:
    """Why this run cannot be pinned as the baseline (pin refuses it so: the API, the Gates tab and the
    run's page), or None: only a completed run that measured Web Vitals on a counted test can be."""
    if run.status != RunStatus.COMPLETED:
        return f"Run {run.public_id} is {run.status}: only a completed run can be the baseline."
    if not _measured(run.id):
        return f"Run {run.public_id} measured no Web Vitals: a baseline is the pages' measurements."
    return None


def _measured(run_id: int) -> bool:
    """Did a counted test of the run measure a Web Vital? (A test that loaded no page records an empty
    list, and a page may have measured nothing.) Reads until the first one that did."""
    pages = db.session.scalars(
        select(Result.vitals)
        .where(Result.run_id == run_id, Result.vitals.is_not(None), Result.quarantined.is_(False))
        .execution_options(yield_per=BATCH)
    )
    try:
        return any(
            page.get(metric) is not None for found in pages for page in found or [] for metric in METRICS
        )
    finally:
        pages.close()


def of_run(run: Run) -> dict[str, Any]:
    """What the run's page says about pinning it: its browser and device, the pin of them (`pin`) and
    whether that is this run (`pinned`), or why it cannot be pinned (`refusal`, None when it can)."""
    pin = pin_of(run.project, run.browser, run.device)
    return {
        "browser": run.browser,
        "device": run.device,
        "pin": pin,
        "pinned": bool(pin) and pin.get("runId") == run.public_id,
        "refusal": None if run.is_active else refusal(run),
    }


def unpin(project: Project, browser: str, device: str, actor: User | None) -> dict[str, Any]:
    """Remove the pin of this browser and device, if any (admins): the baseline rolls again."""
    require_admin(actor)
    _store(project, f"{browser}/{device}", None)
    return describe(project, browser, device)


def _store(project: Project, key: str, entry: dict | None) -> None:
    with write():
        config = dict(project.vitals_regression or {})  # a new dict: the ORM only sees a replaced JSON value
        pins = {k: v for k, v in (config.get(regression.PINS) or {}).items() if k != key}
        if entry is not None:
            pins[key] = entry
        config[regression.PINS] = pins
        if not pins:
            config.pop(regression.PINS)
        project.vitals_regression = config or None
