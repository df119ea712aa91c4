"""Notification channels: where a project's alerts go, and which run ends they are about.

A channel's target is a secret (a webhook URL lets whoever holds it post to the team's channel): it is
encrypted at rest like environment secrets (vault.py), never returned or logged after it is set, and shown
masked (`https://hooks.slack.com/••••`). Webhook targets obey the callback SSRF rules when they are set and
again at every send; e-mail goes through the server's SENTRI_SMTP_URL, which must be set for an e-mail
channel to exist. Only admins create, change, test or delete channels; every user sees them, masked."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import BeforeValidator, Field
from sqlalchemy import select

from .. import ssrf, vault
from ..database import write
from ..errors import ValidationFailed
from ..extensions import db
from ..models import Project, User, isoformat, utcnow
from ..public_ids import get_or_404
from ..runs.options import callback_allowlist
from ..settings import settings
from ..users import require_admin
from ..validation import Body, Flag, Name, one_of, problem
from .models import DEFAULT_EVENTS, EVENTS, KINDS, NotificationChannel

MAX_ADDRESSES = 20


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise problem(f"must be a non-empty list of: {', '.join(EVENTS)}")
    unknown = [v for v in value if v not in EVENTS]
    if unknown:
        raise problem(f"{', '.join(map(repr, unknown))}: not an event (events are {', '.join(EVENTS)})")
    return list(dict.fromkeys(value))


def _target(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > ssrf.MAX_URL_LENGTH:
        raise problem(f"must be a webhook URL or e-mail addresses (1 to {ssrf.MAX_URL_LENGTH} characters)")
    return value.strip()


Events = Annotated[list[str], BeforeValidator(_events)]
Target = Annotated[str, BeforeValidator(_target)]


class NewChannel(Body):
    name: Name
    kind: one_of(KINDS)  # type: ignore[valid-type]
    target: Target
    events: Events = Field(default_factory=lambda: list(DEFAULT_EVENTS))
    enabled: Flag = True


class ChannelChanges(Body):
    """A field left out stays; null is refused. The kind stays what it was: make another channel."""

    name: Name = None  # type: ignore[assignment]
    target: Target = None  # type: ignore[assignment]
    events: Events = None  # type: ignore[assignment]
    enabled: Flag = None  # type: ignore[assignment]


def addresses(target: str) -> list[str]:
    """The e-mail addresses of an e-mail channel's target (comma-separated)."""
    return [part.strip() for part in target.split(",") if part.strip()]


def check_target(kind: str, target: str) -> str:
    """Refuse (400) a target its kind cannot send to: a URL the SSRF rules refuse, an address that is not one,
    or e-mail on a server without SENTRI_SMTP_URL."""
    if kind != "email":
        try:
            ssrf.check_url(target, callback_allowlist(), field="target")
        except ssrf.UnsafeURLError as exc:
            raise ValidationFailed.on("target", str(exc).removeprefix("target ")) from None
        return target
    if not settings().smtp_url:
        raise ValidationFailed.on(
            "kind", "email needs the server's SENTRI_SMTP_URL (smtp:// or smtps://), which is not set"
        )
    found = addresses(target)
    if not 1 <= len(found) <= MAX_ADDRESSES:
        raise ValidationFailed.on("target", f"must be 1 to {MAX_ADDRESSES} e-mail addresses, comma-separated")
    normal = []
    for address in found:
        try:
            normal.append(validate_email(address, check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            raise ValidationFailed.on("target", f"{address!r} is not an e-mail address: {exc}") from None
    return ", ".join(normal)


def mask(kind: str, target: str) -> str:
    """The target as everyone may see it: the receiver's host, or each address's domain."""
    if kind == "email":
        return ", ".join(f"{a[:1]}{vault.MASK}@{a.rpartition('@')[2]}" for a in addresses(target))
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}/{vault.MASK}"


def create(project: Project, body: NewChannel, *, actor: User | None = None) -> NotificationChannel:
    require_admin(actor)
    target = check_target(body.kind, body.target)
    now = utcnow()
    channel = NotificationChannel(
        project_id=project.id,
        name=body.name,
        kind=body.kind,
        target=vault.encrypt(target),
        target_hint=mask(body.kind, target),
        events=body.events,
        enabled=body.enabled,
        created_at=now,
        updated_at=now,
    )
    with write():
        db.session.add(channel)
    return channel


def update(
    channel: NotificationChannel, body: ChannelChanges, *, actor: User | None = None
) -> NotificationChannel:
    require_admin(actor)
    given = body.model_fields_set
    target = check_target(channel.kind, body.target) if "target" in given else None
    with write():
        for name in ("name", "events", "enabled"):
            if name in given:
                setattr(channel, name, getattr(body, name))
        if target is not None:
            channel.target, channel.target_hint = vault.encrypt(target), mask(channel.kind, target)
        channel.updated_at = utcnow()
    return channel


def delete(channel: NotificationChannel, *, actor: User | None = None) -> None:
    require_admin(actor)
    with write():
        db.session.delete(channel)


def target_of(channel: NotificationChannel) -> str:
    """The plaintext target, for sending only (vault.SecretUnreadable when the instance key changed)."""
    return vault.decrypt(channel.target, f"target of {channel.public_id}")


def get(project: Project, public_id: Any) -> NotificationChannel:
    return get_or_404(NotificationChannel, public_id, project=project)


def list_for(project: Project) -> list[NotificationChannel]:
    return list(
        db.session.scalars(
            select(NotificationChannel)
            .where(NotificationChannel.project_id == project.id)
            .order_by(NotificationChannel.id)
        )
    )


def serialize(channel: NotificationChannel) -> dict:
    """The API form, for every user: the target masked, how the last delivery went."""
    return {
        "id": channel.public_id,
        "projectId": Project.format_id(channel.project_id),
        "name": channel.name,
        "kind": channel.kind,
        "target": channel.target_hint,
        "events": channel.events or [],
        "enabled": channel.enabled,
        "lastDelivery": channel.last_delivery,
        "lastError": channel.last_error,
        "lastErrorAt": isoformat(channel.last_error_at),
        "createdAt": isoformat(channel.created_at),
        "updatedAt": isoformat(channel.updated_at),
    }
