"""The SPARQL 1.1 Protocol endpoint at /sparql: a blueprint over the app's served store.

`init_app(app)` registers it with the endpoint's limits read from the config (KG_QUERY_TIMEOUT,
KG_MAX_QUERY_BYTES, KG_RESULT_ROW_CAP, KG_MAX_QUERY_COMPLEXITY), the shared answer cache (KG_CACHE_ENTRIES)
and the store's named graphs as a step of each graph version's snapshot (`kg_service.services`).
"""
from __future__ import annotations

from flask import Flask

from .. import cache, services
from .endpoint import Limits
from .protocol import CachedAnswers, bp

__all__ = ["bp", "init_app", "Limits", "CachedAnswers"]


def init_app(app: Flask) -> None:
    """Register the /sparql blueprint and its settings on `app`."""
    app.extensions["amlkg_sparql"] = Limits(
        max_query_bytes=int(app.config["KG_MAX_QUERY_BYTES"]),
        row_cap=int(app.config["KG_RESULT_ROW_CAP"]),
        timeout=float(app.config["KG_QUERY_TIMEOUT"]),
        max_complexity=int(app.config["KG_MAX_QUERY_COMPLEXITY"]),
    )
    answers = cache.init_app(app)
    services.add_snapshot_step(app, "graphs", lambda store, _snap: frozenset(store.named_graphs()))
    app.register_blueprint(bp)
    served = app.extensions.get("amlkg_store")
    if served is not None:
        app.wsgi_app = app.extensions["amlkg_cached_answers"] = CachedAnswers(app.wsgi_app, served, answers, app)
