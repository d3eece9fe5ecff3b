"""App-wide services shared by the api and ui areas: the named queries and the options finder.

Both are created once per worker in `init_app`; the queries are loaded at start-up so a broken
`.rq` header stops the service with the file's name instead of failing a user's request.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app

from . import negation
from .dataset import get_store
from .store import StoreError
from .named_queries import NamedQuery, load_all
from .options import OptionsFinder, parse_profile

_EXT = "amlkg_services"


def init_app(app: Flask) -> None:
    queries = load_all()
    finder = OptionsFinder(get_store, queries, cache_size=int(app.config["KG_CACHE_ENTRIES"]) or 1)
    app.extensions[_EXT] = {"queries": queries, "finder": finder}
    # the negation reader (spaCy, about a second of CPU) is ready before the app serves: `serve` builds
    # it once in the supervisor, whose forked workers find it built; elsewhere it is built here (built
    # on a background thread, it held the GIL while a new worker's first requests queued for a slot)
    negation.reader()


#: a profile answered once when a worker starts (see `warm`)
WARM_PROFILE = {"status": "relapsed", "mutations": "IDH1"}


def warm(app: Flask) -> None:
    """Open the store and answer one profile before the worker serves: a fresh worker (at start, or
    replacing one after a cut query) otherwise reads the graph's facts once per concurrent first
    request, each holding a query slot, and its first clients wait behind them. Called by the worker
    front at ASGI lifespan startup (kg_service.front). Nothing here stops a worker from starting: a
    store that does not answer yet is the requests' to report, and any other failure is logged."""
    with app.app_context():
        try:
            get_finder().find(parse_profile(WARM_PROFILE))
        except StoreError:
            pass
        except Exception:   # a worker that cannot start would be restarted in a loop: serve instead
            logging.getLogger(__name__).exception("warming the options finder failed; serving anyway")


def get_queries() -> dict[str, NamedQuery]:
    """The named queries, by name."""
    return current_app.extensions[_EXT]["queries"]


def get_finder() -> OptionsFinder:
    """The worker's options finder (its caches are keyed on the graph version)."""
    return current_app.extensions[_EXT]["finder"]
