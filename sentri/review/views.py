"""A result's screenshots and healed steps as the API, the pages, JUnit and the pull-request comment show
them: ids in their public form, pictures by address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .models import Baseline, HealProposal

# What a screenshot step's status means to a reader.
SNAPSHOT_STATUS = {
    "new": "new: no approved baseline yet, waiting for review",
    "matched": "matches its baseline",
    "changed": "changed: waiting for review",
    "rejected": "changed to a picture a person rejected",
}


def snapshots(entries: list[dict] | None, image_url: Callable[[str], str] | None) -> list[dict[str, Any]]:
    """The API form of a result's screenshot steps."""

    def url(sha: str | None) -> str | None:
        return image_url(sha) if image_url and sha else None

    out = []
    for entry in entries or []:
        out.append(
            {
                "step": entry.get("step"),
                "name": entry.get("name"),
                "viewport": entry.get("viewport"),
                "status": entry.get("status"),
                "diffRatio": entry.get("ratio"),
                "box": entry.get("box"),
                "baselineId": Baseline.format_id(entry.get("baselineId")),
                "candidateId": Baseline.format_id(entry.get("candidateId")),
                "expectedUrl": url(entry.get("expectedSha256")),
                "actualUrl": url(entry.get("sha256")),
                "diffUrl": url(entry.get("diffSha256")),
            }
        )
    return out


def healed(entries: list[dict] | None) -> list[dict[str, Any]]:
    """The API form of a result's healed steps; `reused`: the step went straight to a heal already made."""
    return [
        {
            "step": entry.get("step"),
            "from": entry.get("from"),
            "to": entry.get("to"),
            "proposalId": HealProposal.format_id(entry.get("proposalId")),
            "reused": bool(entry.get("reused")),
        }
        for entry in entries or []
    ]


def visual_diffs(entries: list[dict] | None) -> list[dict]:
    """The screenshot steps of a result that did not match (changed or rejected)."""
    return [entry for entry in entries or [] if entry.get("status") in ("changed", "rejected")]
