"""Regression: a store error raised while /sparql looked up the graph version, before its own error
handling (e.g. the version query cut by a very short KG_QUERY_TIMEOUT), was answered 500. Store trouble
on any route is now a 503 problem with Retry-After (kg_service/limits.py: app-wide store error handlers)."""
from __future__ import annotations

from kg_service import create_app


def test_a_timeout_while_reading_the_version_is_503(store_path):
    app = create_app({"TESTING": True, "KG_STORE": store_path, "KG_REQUEST_LOG": "off",
                      "KG_QUERY_TIMEOUT": 1e-9, "KG_CACHE_ENTRIES": 0})
    client = app.test_client()
    for path in ("/sparql?query=ASK%7B%7D", "/health", "/api/options?status=relapsed"):
        r = client.get(path, headers={"Accept": "application/sparql-results+json"})
        assert r.status_code in (200, 503, 504), (path, r.status_code, r.data[:200])
        if r.status_code != 200:
            assert r.mimetype == "application/problem+json"
        if r.status_code == 503:
            assert r.headers["Retry-After"]
