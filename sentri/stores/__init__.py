"""The artifact store: where failure screenshots, traces and the visual store's pictures are kept, and where
the routes serve them from and pruning removes them.

The instance folder (stores/folder.py), as always: instance/artifacts/RUN-n/... and
instance/visual/ab/<sha256>.png. A key is `artifacts/RUN-<n>/<position>-attempt<n>.<png|zip>` or
`visual/<ab>/<sha256>.png`: a run id, numbers and a hash, never a test's name, a URL or a typed value."""

from __future__ import annotations

from flask import Flask, current_app

from .folder import FolderStore, StoreError, valid_key

__all__ = ["FolderStore", "StoreError", "artifact_store", "open_store", "valid_key"]


def open_store(config, instance_path: str):
    """The store the configuration names: the instance folder."""
    return FolderStore(instance_path)


def artifact_store(app: Flask | None = None):
    """The app's artifact store (made once by create_app)."""
    return (app or current_app).extensions["sentri_artifacts"]
