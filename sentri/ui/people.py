"""Who started a run, as a person reads it: the trigger token's label or the user's email, not TOK-2 or USR-1."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Run, TriggerToken, User
from .source import triggered_by

SOURCES = {"token": "CI token", "user": "", "cli": "command line"}


def trigger_names(runs: list[Run]) -> dict[int, str]:
    """Each run's starter in words (two queries for any number of runs): "github-actions (CI token TOK-2)",
    "ana@example.com", or the stored id when its token or user is gone."""
    tokens = {TriggerToken.key_of(r.triggered_by) for r in runs if str(r.triggered_by).startswith("TOK-")}
    people = {User.key_of(r.triggered_by) for r in runs if str(r.triggered_by).startswith("USR-")}
    labels = (
        dict(
            db.session.execute(
                select(TriggerToken.id, TriggerToken.label).where(TriggerToken.id.in_(tokens - {None}))
            ).all()
        )
        if tokens
        else {}
    )
    emails = (
        dict(db.session.execute(select(User.id, User.email).where(User.id.in_(people - {None}))).all())
        if people
        else {}
    )
    names = {}
    for run in runs:
        who = run.triggered_by or ""
        token_key, user_key = TriggerToken.key_of(who), User.key_of(who)
        if who.startswith("TOK-") and token_key is not None and token_key in labels:
            label = labels[token_key]
            names[run.id] = f"{label} (CI token {who})" if label else f"CI token {who}"
        elif who.startswith("USR-") and user_key is not None and user_key in emails:
            names[run.id] = emails[user_key]
        elif run.trigger_source == "schedule":
            names[run.id] = triggered_by(run)  # "Nightly smoke (SCH-1)"
        else:
            names[run.id] = who or SOURCES.get(run.trigger_source, run.trigger_source)
    return names
