"""The JSON API for app developers (blueprint `api`, under /api): the options finder, plain-language
questions, the named queries of `queries/*.rq`, entities and search; `/openapi.json` describes it and
`/api/docs` renders that description.

Every answer comes from the named queries over the store, carries an ETag made of the graph version
and the normalised request, and is kept in the app's result cache (`kg_service.cache`).
"""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("api", __name__, url_prefix="/api")


def allow_cross_origin(blueprint: Blueprint) -> Blueprint:
    """Any origin may call a blueprint's routes (EHR apps run in browsers: CDS Hooks asks services
    to allow CORS), never with credentials; preflights get the methods and headers they ask for."""
    from flask import request

    @blueprint.after_request
    def _cors(resp):
        resp.headers["Access-Control-Allow-Origin"] = "*"
        if request.method == "OPTIONS":
            resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            resp.headers["Access-Control-Allow-Headers"] = (
                request.headers.get("Access-Control-Request-Headers") or "Accept, Content-Type")[:500]
            resp.headers["Access-Control-Max-Age"] = "86400"
        return resp
    return blueprint


def init_app(app: Flask) -> None:
    """Register the api blueprint, /openapi.json, the shared result cache, and what the api derives
    from each graph version (the search index, the OpenAPI document: steps of its snapshot)."""
    from .. import cache, services
    from . import openapi, views  # noqa: F401  (routes register on import)
    from .graphdata import search_index
    cache.init_app(app)
    queries = services.queries_of(app)
    services.add_snapshot_step(app, "search", lambda store, snap: search_index(store, queries, snap.lexicon))
    services.add_snapshot_step(app, "openapi", lambda _store, snap: openapi.spec_document(queries, snap.vocabulary))
    app.register_blueprint(bp)
    app.register_blueprint(openapi.spec_bp)
