"""App-wide services shared by the api and ui areas: the named queries, the graph snapshots and the
options finder.

All are created once per worker in `init_app`; the queries are loaded at start-up so a broken
`.rq` header stops the service with the file's name instead of failing a user's request. The areas
add what they derive from the graph to the snapshot (`add_snapshot_step`), so one build per graph
version reads it all, before that version serves (`warm`, and `served_store.ServedStore` on a swap).
"""
from __future__ import annotations

import gc
import logging

from flask import Flask, current_app

from . import negation
from .served_store import get_store, served_store
from .store import Store, StoreError
from .named_queries import NamedQuery, load_all
from .options import OptionsFinder, read_snapshot
from .snapshot import Snapshot, Snapshots, Step

_EXT = "amlkg_services"


def init_app(app: Flask) -> None:
    queries = load_all()
    snapshots = Snapshots(lambda store: read_snapshot(store, queries))
    finder = OptionsFinder(get_store, queries, snapshots)
    snapshots.add("parts", finder.prefill)
    app.extensions[_EXT] = {"queries": queries, "finder": finder, "snapshots": snapshots}
    served = served_store(app)
    served.on_new_version = snapshots.follow  # a swap builds the new version's snapshot before it answers
    # the negation reader (spaCy, about a second of CPU) is ready before the app serves: `serve` builds
    # it once in the supervisor, whose forked workers find it built; elsewhere it is built here (built
    # on a background thread, it held the GIL while a new worker's first requests queued for a slot)
    negation.reader()


def warm(app: Flask) -> None:
    """Open the store and build its version's snapshot before the worker serves (with the finder's
    prefill step, every single stated value is read ahead, so its first profiles cost no query):
    a fresh worker (at start, or replacing one after a cut query) would otherwise build it on its
    first request while the others wait. Called by the worker front at ASGI lifespan startup
    (kg_service.front). Nothing here stops a worker from starting: a store that does not answer yet
    is the requests' to report, and any other failure is logged."""
    with app.app_context():
        try:
            get_snapshot()
        except StoreError:
            pass
        except Exception:   # a worker that cannot start would be restarted in a loop: serve instead
            logging.getLogger(__name__).exception("warming the worker (its snapshot) failed; serving anyway")


def get_queries() -> dict[str, NamedQuery]:
    """The named queries, by name."""
    return queries_of(current_app)


def queries_of(app: Flask) -> dict[str, NamedQuery]:
    """The app's named queries (outside a request: to build snapshot steps)."""
    return app.extensions[_EXT]["queries"]


def keep_snapshots_out_of_collector(app: Flask) -> None:
    """For a serving worker (`kg_service.front`): after each snapshot build, what the worker holds
    (the app, the new version's snapshot) lives as long as that version, so it is frozen out of the
    cyclic collector (`gc.freeze`), whose full passes over it otherwise pause every request of the
    worker for ~0.1 s now and then (benchmarks/README.md). A replaced snapshot leaves no cycles
    (measured: 0 objects), so reference counting frees it though frozen. Not for other processes
    (commands, tests), which build apps and throw them away."""
    app.extensions[_EXT]["snapshots"].on_built = lambda _snapshot: gc.freeze()


def get_finder() -> OptionsFinder:
    """The worker's options finder (it answers from the served version's snapshot)."""
    return current_app.extensions[_EXT]["finder"]


def add_snapshot_step(app: Flask, name: str, step: Step) -> None:
    """Have every snapshot build fill field `name` with `step(store, snapshot so far)`."""
    app.extensions[_EXT]["snapshots"].add(name, step)


def get_snapshot(store: Store | None = None) -> Snapshot:
    """The served graph version's snapshot (see kg_service.snapshot); with `store` (the served one,
    already read by the caller), the snapshot of the version it is at."""
    return current_app.extensions[_EXT]["snapshots"].get(get_store() if store is None else store)
