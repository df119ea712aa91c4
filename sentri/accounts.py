"""Account administration: list users, change a role, deactivate or reactivate (admins only)."""

from __future__ import annotations

from sqlalchemy import func, select

from .database import write
from .errors import Conflict, ValidationFailed
from .extensions import db
from .models import ROLES, User
from .users import require_admin


def list_users(*, offset: int = 0, limit: int = 50, actor: User | None = None) -> tuple[list[User], int]:
    """Return a page of accounts (oldest first) and the total."""
    require_admin(actor)
    total = db.session.scalar(select(func.count(User.id))) or 0
    page = db.session.scalars(select(User).order_by(User.id).offset(offset).limit(limit))
    return list(page), total


def _other_active_admins(user: User) -> int:
    return db.session.scalar(
        select(func.count(User.id)).where(User.role == "admin", User.active.is_(True), User.id != user.id)
    ) or 0


def set_role(user: User, role: str, *, actor: User | None = None) -> User:
    """Give the user a role; the last active admin cannot be demoted."""
    require_admin(actor)
    if role not in ROLES:
        raise ValidationFailed(f"role: must be one of {', '.join(ROLES)}")
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
