"""Inputs that other projects produced (Chrome Recorder exports, JUnit XSDs, the seed documents with their CI
scripts, GitHub's API description) are not this repository's to hold: tests read them, as they are, from the one
folder that SENTRI_SHARED_DIR names (`.ci/run` points it at ../shared).

Without the setting, a test that needs such a file is skipped with a reason that names the setting; with the
setting, a missing file fails the test (CI must run every one of them).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SETTING = "SENTRI_SHARED_DIR"


def shared_dir() -> Path | None:
    """The folder of shared inputs, or None when SENTRI_SHARED_DIR is not set."""
    configured = os.environ.get(SETTING)
    return Path(configured) if configured else None


def shared_path(*parts: str) -> Path:
    """The path of one shared input; skips the test when the setting is missing, fails it when the file is."""
    root = shared_dir()
    if root is None:
        pytest.skip(
            f"needs {SETTING}, the folder of inputs other tools produced (.ci/run sets it to ../shared)"
        )
    path = root.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"{path} is missing: {SETTING}={root} must hold {'/'.join(parts)}")
    return path


def shared_files(folder: str, pattern: str) -> list:
    """Parameters for every file matching `pattern` in a shared folder: one skipped parameter without the
    setting (so the test reports why), the sorted paths with it."""
    root = shared_dir()
    if root is None:
        reason = f"needs {SETTING}, the folder of inputs other tools produced (.ci/run sets it to ../shared)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-shared-dir")]
    return sorted((root / folder).glob(pattern))


def junit_schema() -> Path:
    """Jenkins' xUnit JUnit 10 schema, which CI servers validate the JUnit files of a run against."""
    return shared_path("real-world", "junit", "jenkins-xunit-junit-10.xsd")


def recorder_export(name: str) -> Path:
    """One of the Chrome DevTools Recorder exports, as the Recorder wrote it."""
    return shared_path("real-world", "recorder", name)


def seed(name: str) -> Path:
    """One of the two product documents (with the CI scripts they show)."""
    return shared_path("seeds", name)
