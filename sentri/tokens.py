"""Trigger tokens: mint, check, list and revoke project-scoped CI tokens (only hashes are stored)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import zlib
from datetime import timedelta
from types import SimpleNamespace
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import and_, bindparam, func, select, update

from . import bearer
from .database import write
from .errors import Forbidden, Unauthorized, ValidationFailed
from .extensions import db
from .models import ACTIVE_RUN_STATUSES, Project, Run, TriggerToken, User, isoformat, utcnow
from .public_ids import get_or_404
from .settings import settings
from .users import require_admin
from .validation import Body, problem, rule, text

PREFIX = bearer.TRIGGER_TOKEN_PREFIX
_ALPHABET = string.digits + string.ascii_letters  # base62
_SECRET_LENGTH = 32
_CHECK_LENGTH = 6
TOKEN_LENGTH = len(PREFIX) + _SECRET_LENGTH + _CHECK_LENGTH
DISPLAY_PREFIX_LENGTH = len(PREFIX) + 6
MAX_EXPIRY_DAYS = 3650
# A poll loop must not turn every status read into a database write.
LAST_USED_STATUS_INTERVAL = timedelta(minutes=1)


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, _ALPHABET[0])


def _checksum(secret: str) -> str:
    return _base62(zlib.crc32(secret.encode()), _CHECK_LENGTH)


def generate() -> str:
    """Return a new plaintext token: sentri_ + 32 random base62 + 6 base62 of their CRC32."""
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_LENGTH))
    return PREFIX + secret + _checksum(secret)


def is_well_formed(value: str) -> bool:
    """Tell whether a string has the token format and a matching checksum (no database needed)."""
    if len(value) != TOKEN_LENGTH or not value.startswith(PREFIX):
        return False
    body = value[len(PREFIX) :]
    if any(ch not in _ALPHABET for ch in body):
        return False
    secret, check = body[:_SECRET_LENGTH], body[_SECRET_LENGTH:]
    return hmac.compare_digest(_checksum(secret), check)


def hash_token(value: str) -> str:
    """Return the hex SHA-256 of a plaintext token, the only form that is stored."""
    return hashlib.sha256(value.encode()).hexdigest()


def _expiry_days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EXPIRY_DAYS:
        raise problem(f"must be a whole number between 1 and {MAX_EXPIRY_DAYS}")
    return value


Label = text(100, required=False)


class NewToken(Body):
    label: Label = ""
    expires_in_days: Annotated[int | None, rule(_expiry_days)] = Field(default=None, alias="expiresInDays")


def create(
    project: Project, *, label: str = "", expires_in_days: int | None = None, actor: User | None = None
) -> tuple[TriggerToken, str]:
    """Mint a token for the project (label and expiry a NewToken has checked) and return it with its
    plaintext, which is never seen again."""
    require_admin(actor)
    cap = settings().max_tokens_per_project
    plaintext = generate()
    with write():
        count = db.session.scalar(
            select(func.count(TriggerToken.id)).where(TriggerToken.project_id == project.id)
        )
        if count >= cap:
            raise ValidationFailed(
                f"Project {project.public_id} already has {count} trigger tokens, the most allowed "
                f"(SENTRI_MAX_TOKENS_PER_PROJECT={cap}); revoke one first."
            )
        now = utcnow()
        token = TriggerToken(
            project_id=project.id,
            label=label,
            prefix=plaintext[:DISPLAY_PREFIX_LENGTH],
            token_hash=hash_token(plaintext),
            created_by_id=actor.id if actor else None,
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        db.session.add(token)
    return token, plaintext


def list_for(project: Project) -> list[TriggerToken]:
    """Return the project's tokens, oldest first."""
    return list(
        db.session.scalars(
            select(TriggerToken).where(TriggerToken.project_id == project.id).order_by(TriggerToken.id)
        )
    )


def get_in_project(project: Project, token_id: str) -> TriggerToken:
    """Return the project's token with this id; another project's token is as unknown as a missing one."""
    return get_or_404(TriggerToken, token_id, project=project)


def get(token_id: str) -> TriggerToken:
    """Return the token with this id or raise 404."""
    return get_or_404(TriggerToken, token_id)


def revoke(token: TriggerToken, *, actor: User | None = None) -> None:
    """Revoke the token and forget its hash."""
    require_admin(actor)
    with write():
        db.session.delete(token)


def plaintext_from_header(header: str | None) -> str:
    """Return the token in an 'Authorization: Bearer <token>' header, or raise 401."""
    value = bearer.credential(header, what="trigger token")
    value = bearer.trigger_token(value) or value
    if not is_well_formed(value):
        raise Unauthorized("Invalid trigger token.")
    return value


def _live(token: AnyToken | None, digest: str) -> AnyToken:
    """Check a looked-up token: 401 when there is none (revoked or never minted) or it has expired."""
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        raise Unauthorized("Invalid or revoked trigger token.")
    if token.expires_at is not None and token.expires_at <= utcnow():
        raise Unauthorized("This trigger token has expired; create a new one.")
    return token


def authenticate_token(header: str | None) -> TriggerToken:
    """Return the live trigger token in an Authorization header, or raise 401."""
    digest = hash_token(plaintext_from_header(header))
    return _live(db.session.scalar(select(TriggerToken).where(TriggerToken.token_hash == digest)), digest)


# A poll is a Core query of table columns, not ORM objects: ORM compilation and loading were most of the
# query's cost in a profile of the served status endpoint (bench/api_throughput.py). Built once.
_POLL_TOKEN = ("id", "project_id", "token_hash", "expires_at", "last_used_at")
_POLL_RUN = (
    "id",
    "project_id",
    "status",
    "phase",
    "passed",
    "failed",
    "skipped",
    "flaky",
    "quarantined",
    "total",
    "created_at",
    "started_at",
    "finished_at",
    "error",
    "gate_result",
    "vitals_result",
    "integrations",
    "branch",
    "commit_sha",
    "options",
)  # all runs.status_payload() and run_url() read; not the plan
_tokens, _runs = TriggerToken.__table__.c, Run.__table__.c
_POLL = (
    select(
        *(_tokens[name].label(f"t_{name}") for name in _POLL_TOKEN),
        *(_runs[name].label(f"r_{name}") for name in _POLL_RUN),
    )
    .select_from(
        TriggerToken.__table__.outerjoin(
            Run.__table__, and_(_runs.id == bindparam("run_key"), _runs.project_id == _tokens.project_id)
        )
    )
    .where(_tokens.token_hash == bindparam("digest"))
)


class PolledToken(SimpleNamespace):
    """The columns of a trigger token a status poll needs (id, project_id, token_hash, expiry, last use)."""

    public_id = property(lambda self: TriggerToken.format_id(self.id))


AnyToken = TriggerToken | PolledToken


class PolledRun(SimpleNamespace):
    """The columns of a run its status body needs, read-only: runs.status_payload() takes it like a Run."""

    public_id = property(lambda self: Run.format_id(self.id))
    is_active = property(lambda self: self.status in ACTIVE_RUN_STATUSES)


def poll(header: str | None, run_id: str) -> tuple[PolledToken, PolledRun | None]:
    """A CI status poll's whole read, in one query: the live token of the header (else 401) and its
    project's run `run_id` (None when it has none of that id; poll_run() says which 404)."""
    digest = hash_token(plaintext_from_header(header))
    row = db.session.connection().execute(_POLL, {"digest": digest, "run_key": Run.key_of(run_id)}).first()
    if row is None:
        return _live(None, digest), None
    values = row._asdict()
    token = PolledToken(**{name: values[f"t_{name}"] for name in _POLL_TOKEN})
    run = (
        PolledRun(**{name: values[f"r_{name}"] for name in _POLL_RUN}) if values["r_id"] is not None else None
    )
    return _live(token, digest), run


def poll_run(token: AnyToken, run: PolledRun | None, run_id: str, project_id: str | None = None) -> PolledRun:
    """The polled run, checked: 404 no such project, 403 another project's token, 404 no such run (the
    error paths read again, to say which)."""
    if project_id is not None and Project.key_of(project_id) != token.project_id:
        project_of(token, project_id)
    if run is None:
        get_or_404(Run, run_id, project=get_or_404(Project, Project.format_id(token.project_id)))
    return run


def authenticate(header: str | None, project_id: str) -> tuple[TriggerToken, Project]:
    """Check a trigger token for a project: 401 bad token, then 404 no project, then 403 other project."""
    token = authenticate_token(header)
    return token, project_of(token, project_id)


def project_of(token: AnyToken, project_id: str) -> Project:
    """Return the project named in the URL if the token belongs to it: 404 no project, 403 another's."""
    project = get_or_404(Project, project_id)
    if token.project_id != project.id:
        raise Forbidden("This trigger token belongs to a different project.")
    return project


def touch(token: AnyToken, *, min_interval: timedelta | None = None) -> None:
    """Record that the token was used, at most once per `min_interval` when one is given."""
    now = utcnow()
    if min_interval and token.last_used_at and now - token.last_used_at < min_interval:
        return
    token_id = token.id  # read before write() ends the read transaction (and expires the row)
    with write():
        db.session.execute(update(TriggerToken).where(TriggerToken.id == token_id).values(last_used_at=now))


def serialize(token: TriggerToken) -> dict:
    """Return the listing form of a token: never its hash or plaintext."""
    return {
        "id": token.public_id,
        "label": token.label,
        "prefix": token.prefix,
        "createdAt": isoformat(token.created_at),
        "lastUsedAt": isoformat(token.last_used_at),
        "expiresAt": isoformat(token.expires_at),
    }
