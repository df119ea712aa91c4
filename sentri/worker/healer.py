"""Healing for one attempt: remember how each target's element looked, and when a target matches nothing
(or more than one element), try the other descriptions a passing run recorded (healing.py). Elements are
described when the test has no hints for its current steps or its hints are a day old (review/recording.py):
a round trip per step is too dear for every run.

A heal already found for a step's target is tried first, before the step's own target: one a proposal waits
with for review (from an earlier run), or one an earlier step of this attempt made of the same target. So a
healed step does not wait out its broken target's timeout in every run until a person decides; it is
recorded as healed again (`reused`), and the result still says it ran on an unreviewed heal. When that
target finds its element and the step still fails, that is the step's failure (a later run without the
withdrawn proposal starts from the step's own target again); when it finds nothing, the step's own target
runs as if no heal waited.

Only targets heal, never an assertion's expected value (text, url, title, value), and a new target must keep
what the steps using the broken one assert (review/heal_rules.py); when it cannot, the step fails with a
sentence saying the heal was refused and why. A heal a person rejected is not made again; a project in
strict mode (heal_locators off) neither records nor heals. A description that shows one of the run's secret
values is dropped: it would be stored in the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from ..review.heal_rules import key, rules_for
from ..ui.steps import describe_target
from . import locator_healing as healing
from .steps import HealRemark, StepRun, locate


class StepHealer:
    """One attempt's healer: `seen` holds this attempt's descriptions, `healed` the steps that healed."""

    def __init__(self, job: Any) -> None:
        self.job = job
        self.seen: dict[int, dict] = {}
        self.healed: list[dict[str, Any]] = []
        self.found: dict[
            str, dict
        ] = {}  # a broken target (by key) -> what a step of this attempt healed it to

    async def remember(self, page: Page, index: int, step: dict) -> None:
        if not self.job.remember or not healing.heal_allowed(step):
            return
        description = await healing.describe(locate(page, step["target"]))
        if description and not _shows_secret(description, self.job.secret_values):
            self.seen[index] = description

    async def run(
        self, page: Page, index: int, step: dict, run: StepRun, may_heal: Callable[[], bool]
    ) -> None:
        """Run one step: on a heal already found for its target first, then on its own target, healing that
        when it finds nothing (or too much)."""
        waiting = self._waiting(index, step)
        if waiting is not None:
            try:
                await run({**step, "target": waiting})
            except (PlaywrightError, AssertionError) as exc:
                if not healing.is_locator_failure(str(exc)):  # it found the element: the step's own failure
                    raise HealRemark(
                        exc,
                        f"The step ran on {describe_target(waiting)}, a heal no person has "
                        "reviewed yet, instead of its own target.",
                    ) from exc
            else:
                self._healed(index, step, waiting, reused=True)
                return
        try:
            await run(step)
        except (PlaywrightError, AssertionError) as exc:
            target = await self._alternative(page, index, step, exc) if may_heal() else None
            if target is None:
                raise
            try:
                await run({**step, "target": target})
            except (PlaywrightError, AssertionError):
                raise exc from None  # the healed target did not help: the original failure stands
            self._healed(index, step, target, reused=False)

    def _waiting(self, index: int, step: dict) -> dict | None:
        if not healing.heal_allowed(step):
            return None
        target = self.found.get(key(step["target"])) or self.job.heal_pending.get(index)
        return None if target is None or target in self.job.heal_refused.get(index, ()) else target

    async def _alternative(self, page: Page, index: int, step: dict, error: BaseException) -> dict | None:
        if not healing.heal_allowed(step) or not healing.is_locator_failure(str(error)):
            return None
        # Every step sharing the target checks the same element: its heal must keep what each asserts.
        rules = rules_for(self.job.steps, step["target"])
        try:
            target = await healing.heal(page, self.job.hints.get(index), step["target"], rules)
        except healing.HealRefused as refused:
            raise HealRemark(error, str(refused)) from error
        if target is None or target in self.job.heal_refused.get(index, ()):
            return None
        return target

    def _healed(self, index: int, step: dict, target: dict, *, reused: bool) -> None:
        self.found[key(step["target"])] = target
        self.healed.append({"step": index, "from": step["target"], "to": target, "reused": reused})


def _shows_secret(description: dict, secrets: list[str]) -> bool:
    values = [str(v) for v in description.values()]
    return any(secret and secret in value for secret in secrets for value in values)
