"""The served store's lifecycle inside the app: one read-only store per worker process."""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app

from .store import Store, StoreError, open_store

_EXT = "amlkg_store"


class ServedStore:
    """Holds the worker's store, reopens it when a build swaps the version, and knows when to
    recycle the worker (a cut query may still be running on a helper thread)."""

    def __init__(self, location: str, timeout: float, refresh_interval: float):
        self.location, self.timeout, self.refresh_interval = location, timeout, refresh_interval
        self._store: Store | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        #: the bound on queries running at once (kg_service.limits.QueryGate), set by limits.init_app
        self.gate = None
        #: called with the store when a refresh opened a new version (services: build its snapshot)
        self.on_new_version = None

    def get(self) -> Store:
        store = self._store
        if store is None:
            with self._lock:
                if self._store is None:
                    opened = open_store(self.location, read_only=True, timeout=self.timeout)
                    opened.gate = self.gate
                    self._store = opened
                store = self._store
        now = time.monotonic()
        if now - self._checked > self.refresh_interval and hasattr(store, "refresh"):
            self._checked = now
            if store.refresh() and self.on_new_version is not None:
                # this request builds what the new version answers from; others wait for that build
                # (kg_service.snapshot) rather than each reading the graph. A failed build is retried
                # by the next answer that needs it, which reports it; this request may not need it.
                try:
                    self.on_new_version(store)
                except Exception:  # noqa: BLE001
                    logging.getLogger(__name__).exception("building the new version's snapshot failed")
        return store

    def recycle_if_poisoned(self) -> None:
        """After a cut query, ask the process manager for a fresh worker once this answer is sent."""
        store = self._store
        if store is not None and getattr(store, "poisoned", False):
            recycle_worker()


def recycle_worker() -> None:
    """Ask the server (granian or gunicorn, see kg_service.server) to replace this worker
    gracefully: in-flight answers finish first."""
    from .server import request_recycle
    request_recycle()


def init_app(app: Flask) -> None:
    served = ServedStore(str(app.config["KG_STORE"]), float(app.config["KG_QUERY_TIMEOUT"]),
                         float(app.config["KG_REFRESH_INTERVAL"]))
    app.extensions[_EXT] = served

    @app.teardown_request
    def _after(_exc):
        served.recycle_if_poisoned()


def served_store(app: Flask) -> ServedStore:
    """The app's served store holder."""
    return app.extensions[_EXT]


def get_store() -> Store:
    """The current worker's store (opened on first use)."""
    return current_app.extensions[_EXT].get()


__all__ = ["get_store", "init_app", "ServedStore", "StoreError"]
