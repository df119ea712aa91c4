"""Extensions created without an app and bound in create_app."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every Sentri model."""


db = SQLAlchemy(model_class=Base)
# Batch mode lets later revisions alter SQLite tables (which cannot ALTER most things in place).
migrate = Migrate(compare_type=True, render_as_batch=True)
csrf = CSRFProtect()
# The client address is request.remote_addr; ProxyFix rewrites it from X-Forwarded-For only when
# SENTRI_TRUSTED_PROXIES says how many proxies to trust, so a forged header cannot dodge a limit.
limiter = Limiter(get_remote_address)
