"""Public ids: what a row is called outside the database ("RUN-7", "TST-3"), read back strictly, and the 404
that names one nobody may see."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, overload

from sqlalchemy.orm import Mapped

from .errors import NotFound
from .extensions import db

if TYPE_CHECKING:
    from .models import Project

# Public ids are "<PREFIX>-<n>" over integer primary keys; AUTOINCREMENT (SQLite) and sequences
# (PostgreSQL) guarantee a deleted PRJ-3 leaves a gap instead of being reused.
_ID = re.compile(r"([A-Z]{3})-([1-9][0-9]{0,9})")


# Integer columns are 32-bit on PostgreSQL: a larger key in a query is an error there, not a miss.
MAX_KEY = 2**31 - 1


def parse_public_id(prefix: str, value: str | None) -> int | None:
    """Return the integer key of a public id like 'PRJ-3', or None when it is not one of `prefix`."""
    match = _ID.fullmatch(value or "")
    if not match or match.group(1) != prefix:
        return None
    key = int(match.group(2))
    return key if key <= MAX_KEY else None


class PublicIdMixin:
    """Give a model its public id form ("PRJ-3") from ID_PREFIX, and its name in messages from NOUN."""

    ID_PREFIX = ""
    NOUN = ""
    id: Mapped[int]

    @property
    def public_id(self) -> str:
        return f"{self.ID_PREFIX}-{self.id}"

    @overload
    @classmethod
    def format_id(cls, key: int) -> str: ...

    @overload
    @classmethod
    def format_id(cls, key: None) -> None: ...

    @overload
    @classmethod
    def format_id(cls, key: int | None) -> str | None: ...

    @classmethod
    def format_id(cls, key: int | None) -> str | None:
        """The public id of a key of this model ("TST-7"), None for None (a deleted test's results)."""
        return None if key is None else f"{cls.ID_PREFIX}-{key}"

    @classmethod
    def key_of(cls, public_id: object) -> int | None:
        """The key a public id of this model names, or None when it is not one."""
        return parse_public_id(cls.ID_PREFIX, public_id if isinstance(public_id, str) else None)


def get_or_404(model, public_id: object, *, project: Project | None = None):
    """Return the row a public id names, or raise a 404 naming it; with `project`, another project's row
    is as unknown as a missing one."""
    key = model.key_of(public_id)
    item = db.session.get(model, key) if key else None
    if item is None or (project is not None and item.project_id != project.id):
        where = f" in project {project.public_id}" if project is not None else ""
        raise NotFound(f"{model.NOUN} {public_id} not found{where}.")
    return item
