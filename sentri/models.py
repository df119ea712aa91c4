"""Typed SQLAlchemy 2.x models: users, projects, tests, trigger tokens, runs and results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .public_ids import PublicIdMixin
from .states import ResultStatus, RunStatus
from .timestamps import UTCDateTime, utcnow
from .timestamps import isoformat as isoformat  # re-exported: the API formats its times with it

_AUTOINCREMENT = {"sqlite_autoincrement": True}

ROLES = ("admin", "member")
REVIEW_STATUSES = ("draft", "approved", "rejected")
# A run is queued until a worker claims its first test, then running; both hold the project's lock.
ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
TERMINAL_RUN_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.ABORTED)
# A result row is queued, then running (claimed), then one of the outcomes.
PENDING_RESULT_STATUSES = (ResultStatus.QUEUED, ResultStatus.RUNNING)
_ACTIVE_PREDICATE = "status IN ('queued', 'running')"


class User(PublicIdMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = _AUTOINCREMENT
    ID_PREFIX = "USR"
    NOUN = "User"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="member")
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped when the password changes: sessions and API tokens carry it, and older ones stop working.
    credentials_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Project(PublicIdMixin, db.Model):
    __tablename__ = "projects"
    __table_args__ = _AUTOINCREMENT
    ID_PREFIX = "PRJ"
    NOUN = "Project"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(String(2048))
    is_demo: Mapped[bool] = mapped_column(default=False)
    # Quality gates and Web Vitals budgets: None when nothing is configured (no enforcement).
    quality_gates: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    vitals_budgets: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Default {{NAME}} values of the project's tests (the lowest precedence).
    variables: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Origins beyond the base URLs that a trigger's baseUrl may name and secrets may be typed into:
    # exact ("https://staging.example.com") or host globs ("https://pr-*.preview.example.com").
    allowed_origins: Mapped[list[str] | None] = mapped_column(JSON)
    # Web Vitals over history (policies/regression.py): samples per page load, the baseline branch and the
    # regression gate ({metric: {maxIncreasePct, minIncreaseMs}, alpha, baselineRuns, mode, ...}).
    vitals_regression: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When tests enter quarantine on their own and when leaving it is suggested (quarantine.py).
    quarantine_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    heal_locators: Mapped[bool] = mapped_column(default=True, server_default=true())  # False: strict
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # passive_deletes: the database's ON DELETE CASCADE removes children, so deleting a project
    # with thousands of results is one statement, not a load of every row.
    tests: Mapped[list[TestCase]] = relationship(back_populates="project", passive_deletes=True)
    tokens: Mapped[list[TriggerToken]] = relationship(back_populates="project", passive_deletes=True)
    runs: Mapped[list[Run]] = relationship(back_populates="project", passive_deletes=True)


class TestCase(PublicIdMixin, db.Model):
    """A test: an ordered list of steps (docs/test-format.md), reviewed before it runs."""

    __tablename__ = "tests"
    __table_args__ = (Index("ix_tests_project_status", "project_id", "review_status"), _AUTOINCREMENT)
    __test__ = False  # not a pytest class, despite the name
    ID_PREFIX = "TST"
    NOUN = "Test"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    viewport: Mapped[dict[str, int] | None] = mapped_column(JSON)
    covers: Mapped[list[str] | None] = mapped_column(JSON)
    review_status: Mapped[str] = mapped_column(String(16), default="draft")
    # Share of unstable outcomes over the last finished runs (planner.flaky_score), kept current.
    flaky_score: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # Quarantined: still run and reported, never counted toward failed, the gates or the verdict.
    quarantined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    quarantined_by: Mapped[str | None] = mapped_column(String(64))  # USR-n, "cli" or "auto"
    quarantine_reason: Mapped[str | None] = mapped_column(String(500))
    # A draft made from a crawl: the page it was made from (the review queue groups drafts by it).
    source_page: Mapped[str | None] = mapped_column(String(2048))
    # Other descriptions of each target's element from the last passing run ({"steps": hash, "hints": ...})
    # and how many results healed a step (review/healing.py).
    locator_hints: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    heal_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="tests")


suite_tests = Table(
    "suite_tests",
    db.metadata,
    Column("suite_id", ForeignKey("suites.id", ondelete="CASCADE"), primary_key=True),
    Column("test_id", ForeignKey("tests.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Suite(PublicIdMixin, db.Model):
    """A named group of a project's tests; a test may be in several."""

    __tablename__ = "suites"
    __table_args__ = _AUTOINCREMENT
    ID_PREFIX = "SUI"
    NOUN = "Suite"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tests: Mapped[list[TestCase]] = relationship(secondary=suite_tests, order_by="TestCase.id")


class Environment(PublicIdMixin, db.Model):
    """Where and with what a project's tests run: a base URL, variables and encrypted secrets."""

    __tablename__ = "environments"
    __table_args__ = _AUTOINCREMENT
    ID_PREFIX = "ENV"
    NOUN = "Environment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str | None] = mapped_column(String(2048))
    variables: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # name -> Fernet token (vault.py); the plaintext is never stored or returned.
    secrets: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TestDataSet(PublicIdMixin, db.Model):
    """A named set of {{NAME}} values a trigger can pick."""

    __tablename__ = "test_data_sets"
    __table_args__ = _AUTOINCREMENT
    __test__ = False
    ID_PREFIX = "DAT"
    NOUN = "Test-data set"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    variables: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TriggerToken(PublicIdMixin, db.Model):
    """A project-scoped CI token; only the SHA-256 of its plaintext is kept."""

    __tablename__ = "trigger_tokens"
    __table_args__ = _AUTOINCREMENT
    ID_PREFIX = "TOK"
    NOUN = "Trigger token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship(back_populates="tokens")


class Run(PublicIdMixin, db.Model):
    """One execution of a project's approved tests."""

    __tablename__ = "runs"
    __table_args__ = (
        # The database itself refuses a second active run for a project on one browser and device: two
        # simultaneous triggers give one insert and one IntegrityError, never two runs.
        Index(
            "uq_runs_one_active_per_project_browser_device",
            "project_id",
            "browser",
            "device",
            unique=True,
            sqlite_where=text(_ACTIVE_PREDICATE),
            postgresql_where=text(_ACTIVE_PREDICATE),
        ),
        Index("ix_runs_project_created", "project_id", "created_at"),
        # Workers and recovery look for the few active runs, and for ends whose hooks nobody took yet.
        Index("ix_runs_status", "status"),
        Index("ix_runs_notify_state", "notify_state"),
        # The regression gate's baseline: a project's last runs on a branch.
        Index("ix_runs_project_branch", "project_id", "branch"),
        _AUTOINCREMENT,
    )
    ID_PREFIX = "RUN"
    NOUN = "Run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    trigger_source: Mapped[str] = mapped_column(String(16))  # token | user | cli
    # What the run's tests run in (browserProfile, device): one active run per project, browser and device.
    browser: Mapped[str] = mapped_column(String(16), default="chromium", server_default="chromium")
    device: Mapped[str] = mapped_column(String(16), default="desktop", server_default="desktop")
    triggered_by: Mapped[str] = mapped_column(String(64), default="")  # TOK-n / USR-n
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    error: Mapped[str | None] = mapped_column(Text)
    total: Mapped[int] = mapped_column(default=0)
    passed: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    flaky: Mapped[int] = mapped_column(default=0)
    # Executed tests that were quarantined when the run started: in none of passed / failed / flaky.
    quarantined: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Where the code under test came from (trigger body or GitHub fields); None = the baseline branch.
    branch: Mapped[str | None] = mapped_column(String(255))
    commit_sha: Mapped[str | None] = mapped_column(String(40))
    gate_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    vitals_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The risk order and budget plan: why each test ran or was skipped.
    plan: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # What was reported elsewhere and how it went ({"github": {...}}); never holds a credential.
    integrations: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # How many of its tests may run at once, across every process (dialsConfig.parallelWorkers).
    parallel: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # budgetMinutes' wall clock: tests still queued then are skipped (over_budget).
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while an active run is being stopped ("aborted", "failed"): nothing more is claimed, and the
    # workers running its tests see it within seconds and stop them.
    stop_reason: Mapped[str | None] = mapped_column(String(16))
    # "crawling" while a crawl: true run scans its site (its tests wait); None otherwise.
    phase: Mapped[str | None] = mapped_column(String(16))
    # What follows the end (callback, GitHub, waiters): "pending" from the end's transaction until one
    # process takes it ("sent"), so it happens once even when the process that ended the run dies.
    notify_state: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship(back_populates="runs")
    results: Mapped[list[Result]] = relationship(
        back_populates="run", passive_deletes=True, order_by="Result.position"
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES


class Result(db.Model):
    """One planned test of a run: queued, claimed by a worker (running), then its outcome with every
    attempt; or skipped with its reason from the start (over_budget, deselected)."""

    __tablename__ = "results"
    __table_args__ = (
        UniqueConstraint("run_id", "position"),
        Index("ix_results_run_status", "run_id", "status"),
        Index("ix_results_status_lease", "status", "lease_until"),
        Index(
            "ix_results_test_run", "test_id", "run_id"
        ),  # a test's history, newest first (policies/history.py)
        _AUTOINCREMENT,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    # The test may be deleted later; its results stay with the name it had.
    test_id: Mapped[int | None] = mapped_column(ForeignKey("tests.id", ondelete="SET NULL"))
    test_name: Mapped[str] = mapped_column(String(200))
    # A page check (crawl: true): the page it loads; test_id is then None.
    page_url: Mapped[str | None] = mapped_column(String(2048))
    position: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))
    skip_reason: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    failing_step: Mapped[int | None] = mapped_column()  # numbered from 1, like the test format
    duration_ms: Mapped[int | None] = mapped_column()
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    flaky: Mapped[bool] = mapped_column(default=False)
    # The test was quarantined when the run started: reported, never counted (Run.quarantined).
    quarantined: Mapped[bool] = mapped_column(default=False, server_default=false())
    base_url: Mapped[str | None] = mapped_column(String(2048))
    vitals: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    screenshot: Mapped[str | None] = mapped_column(String(512))  # path inside the instance folder
    trace: Mapped[str | None] = mapped_column(String(512))  # Playwright trace.zip of the failure
    snapshots: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # expect_screenshot outcomes
    healed: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # steps whose target healed
    # The process that claimed it (nodes.id) and until when its claim holds unless renewed; a row whose
    # lease ran out belongs to a dead or stuck worker and is recovered by any process.
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claims: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # re-queued once at most
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    run: Mapped[Run] = relationship(back_populates="results")


class Node(db.Model):
    """A Sentri process serving this database, alive while it keeps `seen_at` fresh."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # host:pid:random, never reused
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    slots: Mapped[int | None] = mapped_column(
        Integer
    )  # its browser slots: others see whether it has room (spread.py)
