"""What a Sentri process runs besides answering requests, in one object.

`create_app` makes one `Runtime` per app and starts nothing: no thread, browser or connection exists until
`start()` (called by `serve`, and by tests that run browsers). `stop(grace)` is the one way to end it, used by
the server's signal handling and by the tests alike. Code reaches a service through `runtime(app).engine`,
`.hooks`, `.github` or `.artifacts`, never by a string key of its own.

- `engine`: the browser workers and the heartbeat (worker/engine.py); its callback sender too.
- `hooks`: what follows each run's end, once (runtime/hooks.py): callbacks, alerts (notify/), waiters of `wait: true`.
- `github`: commit statuses and PR comments, in order, on threads of their own (github/reporter.py).
- `artifacts`: where screenshots, traces and pictures are kept (stores/): a folder or a bucket.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from ..github.reporter import GitHubReporter
    from ..settings import Settings
    from ..stores.bucket import BucketStore
    from ..stores.folder import FolderStore
    from ..worker.engine import RunEngine
    from .hooks import Hooks

    ArtifactStore = FolderStore | BucketStore

log = logging.getLogger(__name__)
EXTENSION = "sentri"  # its key in app.extensions, as a Flask extension registers itself; read only below


class Runtime:
    def __init__(self, app: Flask, settings: Settings, artifacts: ArtifactStore) -> None:
        # Imported here: the services reach each other through `runtime()`, so importing them above would
        # make this module part of an import cycle; here it stays a leaf that any of them can import.
        from ..github.reporter import GitHubReporter
        from ..worker.engine import RunEngine  # (the same cycle)
        from .hooks import Hooks, listen  # (the same cycle)

        listen()

        self.settings = settings  # parsed once at start (settings.py); replaced whole, never changed
        self.artifacts = artifacts
        app.extensions[EXTENSION] = self  # the services below read their settings through runtime(app)
        self.engine: RunEngine = RunEngine(app)
        self.hooks: Hooks = Hooks(app)
        self.github: GitHubReporter = GitHubReporter(app)

    def start(self) -> None:
        """Start the browser workers and the heartbeat (the other services start their threads on first use)."""
        self.engine.start()

    def begin_stop(self) -> None:
        """Say at once that this process is stopping (from a signal handler: it only sets flags)."""
        self.engine.begin_stop()

    def stop(self, grace_seconds: float) -> int:
        """Let running tests finish for the grace and hand the rest back, then send what is due: callbacks
        get at most the grace too. Returns how many callbacks were still being sent when it ran out."""
        self.engine.shutdown(grace_seconds)
        abandoned = self.hooks.shutdown(grace_seconds)
        if abandoned:
            log.warning(
                "gave up on %s callback(s) still being sent after the %ss grace", abandoned, grace_seconds
            )
        self.github.shutdown()
        return abandoned


def install(app: Flask, settings: Settings, artifacts: ArtifactStore) -> Runtime:
    return Runtime(app, settings, artifacts)


def runtime(app: Flask | None = None) -> Runtime:
    """The app's runtime (the current app's by default)."""
    return (app or current_app).extensions[EXTENSION]
