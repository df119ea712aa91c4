"""Accounts: create, authenticate, change or reset a password, the role rules every other domain
function asks, and their administration (list, change a role, deactivate or reactivate)."""

from __future__ import annotations

import secrets
from functools import cache
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import BeforeValidator, Field
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .database import write
from .errors import Conflict, Forbidden, NotFound, ValidationFailed
from .extensions import db
from .models import ROLES, User, isoformat
from .public_ids import get_or_404
from .settings import settings
from .validation import Body, one_of, problem

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


def _hash(password: str) -> str:
    """Hash a password with SENTRI_PASSWORD_HASH (werkzeug's method string; scrypt unless tests say)."""
    return generate_password_hash(password, method=settings().password_hash)


@cache
def _dummy_hash(method: str) -> str:
    """A hash checked against when the email is unknown, so a wrong email costs what a wrong password does;
    made on first use (no hashing at import), once per method."""
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def _email(value: Any) -> str:
    if not isinstance(value, str):
        raise problem("must be a string")
    try:
        # Self-hosted teams use internal domains (.local, .internal): syntax is checked, reachability is not.
        return validate_email(
            value.strip(), check_deliverability=False, globally_deliverable=False
        ).normalized.lower()
    except EmailNotValidError as exc:
        raise problem(f"{exc}") from None


def _new_password(value: Any) -> str:
    if not isinstance(value, str) or len(value) < MIN_PASSWORD_LENGTH:
        raise problem(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise problem(f"must be at most {MAX_PASSWORD_LENGTH} characters")
    return value


Email = Annotated[str, BeforeValidator(_email)]  # normalised (lower case)
NewPassword = Annotated[str, BeforeValidator(_new_password)]
Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
Role = one_of(ROLES)


class NewUser(Body):
    email: Email
    password: NewPassword
    role: Role = "member"


class Login(Body):
    email: str = Field(min_length=1, max_length=254)
    password: Password


class PasswordChange(Body):
    current_password: Password = Field(alias="currentPassword")
    new_password: NewPassword = Field(alias="newPassword")


class PasswordReset(Body):
    new_password: NewPassword = Field(alias="newPassword")


class RoleChange(Body):
    role: Role


def create_user(email: str, password: str, *, role: str = "member", actor: User | None = None) -> User:
    """Create an account with a hashed password (from values a NewUser has checked); only an admin (or the
    CLI, actor=None) may."""
    require_admin(actor)
    password_hash = _hash(password)  # before the write lock: hashing is the slow part
    with write():
        if db.session.scalar(select(User.id).where(User.email == email)) is not None:
            raise Conflict(f"A user with the email {email} already exists.")
        user = User(email=email, password_hash=password_hash, role=role)
        db.session.add(user)
    return user


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None without saying which part was wrong."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        check_password_hash(_dummy_hash(settings().password_hash), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def _store_password(user: User, password: str) -> None:
    """Hash the new password and bump the credentials version: every older session and API token dies."""
    password_hash = _hash(password)  # before the write lock: hashing is the slow part
    with write():
        user.password_hash = password_hash
        user.credentials_version = User.credentials_version + 1  # in SQL: two changes at once both count


def change_password(user: User, current_password: str, new_password: str) -> User:
    """Change the user's own password after checking the current one (the new one a PasswordChange checked)."""
    if not check_password_hash(user.password_hash, current_password):
        raise ValidationFailed.on("currentPassword", "does not match your current password")
    _store_password(user, new_password)
    return user


def set_password(user: User, new_password: str, *, actor: User | None = None) -> User:
    """Give another user a new password; only an admin (or the CLI, actor=None) may."""
    require_admin(actor)
    _store_password(user, new_password)
    return user


def get_by_email(email: str) -> User:
    """Return the user with this email or raise 404."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"No user has the email {email.strip()}.")
    return user


def get_user(public_id: str) -> User:
    """Return the user with this public id or raise 404."""
    return get_or_404(User, public_id)


def count_users() -> int:
    """Return how many accounts exist."""
    return db.session.scalar(select(func.count(User.id))) or 0


def require_admin(actor: User | None) -> None:
    """Refuse a non-admin actor; actor None is the local operator (CLI, start-up)."""
    if actor is not None and not actor.is_admin:
        raise Forbidden("This action needs the admin role.")


def serialize(user: User) -> dict:
    """Return the API form of a user."""
    return {
        "id": user.public_id,
        "email": user.email,
        "role": user.role,
        "active": user.active,
        "createdAt": isoformat(user.created_at),
    }


# -- administration (admins only) ------------------------------------------------------------------


def list_users(
    *, offset: int = 0, limit: int | None = 50, actor: User | None = None
) -> tuple[list[User], int]:
    """Return a page of accounts (oldest first; every one with limit=None) and the total."""
    require_admin(actor)
    total = db.session.scalar(select(func.count(User.id))) or 0
    page = db.session.scalars(select(User).order_by(User.id).offset(offset).limit(limit))
    return list(page), total


def _other_active_admins(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count(User.id)).where(User.role == "admin", User.active.is_(True), User.id != user.id)
        )
        or 0
    )


def set_role(user: User, role: str, *, actor: User | None = None) -> User:
    """Give the user a role; the last active admin cannot be demoted."""
    require_admin(actor)
    with write():
        if user.role == "admin" and role != "admin" and user.active and _other_active_admins(user) == 0:
            raise Conflict("This is the last active admin: make someone else admin first.")
        user.role = role
    return user


def set_active(user: User, active: bool, *, actor: User | None = None) -> User:
    """Deactivate (log out everywhere, refuse log-in) or reactivate an account; never the last admin."""
    require_admin(actor)
    with write():
        if not active and user.role == "admin" and user.active and _other_active_admins(user) == 0:
            raise Conflict("This is the last active admin: it cannot be deactivated.")
        user.active = active
    return user
