"""The JSON API for app developers (blueprint `api`, under /api): the options finder, plain-language
questions, the named queries of `queries/*.rq`, entities and search; `/openapi.json` describes it and
`/api/docs` renders that description.

Every answer comes from the named queries over the store, carries an ETag made of the graph version
and the normalised request, and is kept in the app's result cache (`kg_service.cache`).
"""
from __future__ import annotations

from .views import bp, init_app

__all__ = ["bp", "init_app"]
