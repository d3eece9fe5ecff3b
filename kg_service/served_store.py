"""The served store's lifecycle inside the app: one read-only store per worker process."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from flask import Flask, current_app

from . import config
from .store import Store, StoreError, open_store

_EXT = "amlkg_store"


class ServedStore:
    """Holds the worker's store, follows a build's swap to a new version, and knows when to recycle
    the worker (a cut query may still be running on a helper thread).

    On a swap the store is refreshed to the new version and `on_new_version` (services: build its
    snapshot if the version it left had one) runs on the request that finds it, before that request is
    answered; others wait for that one build (kg_service.snapshot). So an answer never comes from a
    version older than the one the worker has seen: a curator reads a write back at once, as a client
    does after a build. (Building aside while the old version answered saved those first requests
    ~0.4 s, but served writes late.)"""

    def __init__(self, location: str, timeout: float, refresh_interval: float,
                 environ: Mapping[str, str] | None = None):
        self.location, self.timeout, self.refresh_interval = location, timeout, refresh_interval
        #: the store's own settings (KG_STORE_*), from the app's config (`config.store_environ`)
        self.environ = environ
        self._store: Store | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        #: the bound on queries running at once (kg_service.limits.QueryGate), set by limits.init_app
        self.gate = None
        #: called with the store refreshed to a new version and the version it left, before answers move
        #: to it (services: build its snapshot, if the old version had one; else there is nothing to
        #: build ahead, and the new version is followed at once)
        self.on_new_version: Callable[[Store, str], None] | None = None

    def get(self) -> Store:
        store = self._store
        if store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._open()
                store = self._store
        now = time.monotonic()
        if now - self._checked > self.refresh_interval and hasattr(store, "refresh"):
            self._checked = now
            follow = self.on_new_version
            previous = (store.known_version() or "") if follow is not None else ""  # no query: a version
            # never read has no snapshot to follow
            if store.refresh() and follow is not None:
                self._built(store, previous)
        return store

    def version_at_hand(self) -> str | None:
        """The served version if `get` would return the store as it is (opened, no refresh due) and
        that store knows its version without a query; else None, and the caller takes the path that
        may wait (`get`). Never blocks: the front calls it on its event loop."""
        store = self._store
        if store is None or time.monotonic() - self._checked > self.refresh_interval:
            return None
        return store.known_version()

    def _open(self) -> Store:
        opened = open_store(self.location, read_only=True, timeout=self.timeout, environ=self.environ)
        opened.gate = self.gate
        return opened

    def _built(self, store: Store, previous: str) -> None:
        """Build what `store`'s version answers from. A failed build is retried by the next answer
        that needs it, which reports it; the request that found the version may not need it."""
        try:
            self.on_new_version(store, previous)
        except Exception:  # noqa: BLE001
            logging.getLogger(__name__).exception("building the new version's snapshot failed")

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
                         float(app.config["KG_REFRESH_INTERVAL"]), config.store_environ(app.config))
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
