"""amlkg: a knowledge graph of relapsed/refractory AML treatment options, served over HTTP.

`create_app` is the one place the Flask app is assembled (config, store, blueprints, errors).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .disclaimer import DISCLAIMER

if TYPE_CHECKING:  # importing a subpackage (the store, the loaders' helpers) must not load Flask
    from flask import Flask

__all__ = ["create_app", "DISCLAIMER"]


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config layers, the served store, the sparql/api/ui blueprints, problem errors."""
    from flask import Flask
    app = Flask(__name__, instance_relative_config=True)
    from . import config, errors, served_store, services
    config.load(app, test_config)
    errors.init_app(app)
    served_store.init_app(app)
    services.init_app(app)
    from .question import lexicon_for
    queries = services.queries_of(app)
    services.add_snapshot_step(app, "lexicon", lambda store, _snap: lexicon_for(store, queries))

    from .health import bp as health_bp
    app.register_blueprint(health_bp)
    from . import void
    void.init_app(app)         # /.well-known/void, /downloads/*, /context.jsonld
    from . import api, cds, fhir, sparql, ui
    for area in (sparql, api, ui, cds, fhir):
        area.init_app(app)  # each area registers its blueprints
    from . import curator, headers, limits, request_log
    curator.init_app(app)      # /curator/*: only when KG_CURATOR_TOKEN is set
    limits.init_app(app)       # body/URL limits, the query gate of the served store
    # WSGI layers, innermost first: the SPARQL cache (sparql.init_app), the headers (nosniff, HTML
    # policies, the API's CORS, on every answer of the app), the rate limit, compression, the log
    headers.init_app(app)
    limits.wrap_rate_limit(app)
    from . import compression
    compression.init_app(app)  # gzip/deflate, outside the SPARQL fast paths
    request_log.init_app(app)
    app.config["STARTED_AT"] = time.time()
    return app

