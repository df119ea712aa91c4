"""Deliver a finished run's callback: best-effort, SSRF-checked again at send time, never fatal."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask

from . import runs, ssrf
from .extensions import db
from .models import Run
from .run_options import callback_allowlist

log = logging.getLogger("sentri.notify")
# For the whole exchange (connect, send, the answer), not per read: a trickling receiver cannot hold more.
CALLBACK_TIMEOUT_SECONDS = 10.0
# Only the status is used: the rest of the answer is never read, however long it is.
CALLBACK_MAX_ANSWER_BYTES = 4096


def run_url(app: Flask, run: Run) -> str:
    """Return the link to a run's page, on the public URL the trigger was made through."""
    base = run.options.get("publicUrl") or app.config.get("SENTRI_PUBLIC_URL")
    if not base:
        base = f"http://{app.config['SENTRI_HOST']}:{app.config['SENTRI_PORT']}"
    return f"{base.rstrip('/')}/runs/{run.public_id}"


def send_callback(app: Flask, run_id: int) -> bool:
    """POST the run summary to its callbackUrl, if it has one; return whether it was delivered."""
    with app.app_context():
        run = db.session.get(Run, run_id)
        if run is None or not run.callback_url:
            return False
        url = run.callback_url
        payload = runs.callback_payload(run, run_url(app, run))
        allowlist = callback_allowlist()
    # Only the host is logged: a callback URL may carry a secret in its path or query.
    host = urlsplit(url).hostname
    try:
        response = ssrf.post_json(url, payload, timeout=CALLBACK_TIMEOUT_SECONDS, allowlist=allowlist,
                                  max_body=CALLBACK_MAX_ANSWER_BYTES)
    except ssrf.UnsafeURLError as exc:
        log.warning("callback for %s refused: %s", run.public_id, exc)
        return False
    except Exception as exc:  # the receiver is down or slow: the run's outcome stands
        log.warning("callback for RUN-%s to %s failed: %s", run_id, host, type(exc).__name__)
        return False
    log.info("callback for RUN-%s to %s answered %s", run_id, host, response.status_code)
    return response.ok
