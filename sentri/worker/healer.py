"""Healing for one attempt: remember how each target's element looked, and when a target matches nothing
(or more than one element), try the other descriptions a passing run recorded (healing.py). Elements are
described when the test has no hints for its current steps or its hints are a day old (review/recording.py):
a round trip per step is too dear for every run.

Only targets heal, never an assertion's expected value (text, url, title, value), and a new target must keep
what the steps using the broken one assert (review/heal_rules.py); when it cannot, the step fails with a
sentence saying the heal was refused and why. A heal a person rejected is not made again; a project in
strict mode (heal_locators off) neither records nor heals. A description that shows one of the run's secret
values is dropped: it would be stored in the database."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from ..review.heal_rules import rules_for
from . import healing
from .steps import HealRemark, locate


class StepHealer:
    """One attempt's healer: `seen` holds this attempt's descriptions, `healed` the steps that healed."""

    def __init__(self, job: Any) -> None:
        self.job = job
        self.seen: dict[int, dict] = {}
        self.healed: list[dict[str, Any]] = []

    async def remember(self, page: Page, index: int, step: dict) -> None:
        if not self.job.remember or not healing.heal_allowed(step):
            return
        description = await healing.describe(locate(page, step["target"]))
        if description and not _shows_secret(description, self.job.secret_values):
            self.seen[index] = description

    async def alternative(self, page: Page, index: int, step: dict, error: BaseException) -> dict | None:
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
        return {**step, "target": target}

    def healed_step(self, index: int, step: dict, healed: dict) -> None:
        self.healed.append({"step": index, "from": step["target"], "to": healed["target"]})


def _shows_secret(description: dict, secrets: list[str]) -> bool:
    values = [str(v) for v in description.values()]
    return any(secret and secret in value for secret in secrets for value in values)
