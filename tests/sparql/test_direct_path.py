"""GET /sparql of the usual shape is answered by CachedAnswers without Flask's request machinery; the
answer (status, body, headers, problem documents) is the one the app gives the same query through
its route (a form POST, which always goes through the app), and every other request still reaches
the app."""
from __future__ import annotations

import itertools
import json

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from kg_service.sparql import CachedAnswers

JSON = "application/sparql-results+json"
LABELS = "SELECT ?s ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l } ORDER BY ?s ?l LIMIT 5"
_unique = itertools.count()
COMPARED_HEADERS = ("Content-Type", "Vary", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
                    "X-AMLKG-Warning", "X-AMLKG-Truncated", "Retry-After")


def middleware_of(app) -> CachedAnswers:
    layer = app.wsgi_app
    while not isinstance(layer, CachedAnswers):
        layer = layer.wsgi_app
    return layer


@pytest.fixture()
def probe(app):
    """CachedAnswers over the app's own store and cache, recording what it hands to the app."""
    real = middleware_of(app)
    handed = []

    def to_app(environ, start_response):
        handed.append(environ.get("QUERY_STRING"))
        return real.wsgi_app(environ, start_response)

    middleware = CachedAnswers(to_app, real.served, real.cache, app)
    return middleware, handed


def get(middleware, query_string: dict, accept: str | None = JSON):
    headers = {"Accept": accept} if accept else {}
    environ = EnvironBuilder(path="/sparql", query_string=query_string, headers=headers).get_environ()
    body_iter, status, headers = run_wsgi_app(middleware, environ, buffered=True)
    return int(status.split()[0]), headers, b"".join(body_iter)


def fresh(query: str) -> str:
    """The query with a comment no earlier request had, so no cache answers it."""
    return "%s\n# direct-path test %d" % (query, next(_unique))


def via_app(client, form: dict, accept: str | None = JSON):
    return client.post("/sparql", data=form, headers={"Accept": accept} if accept else {})


@pytest.mark.parametrize("name, form, accept", [
    ("select as JSON", {"query": LABELS}, JSON),
    ("select as CSV through format=", {"query": LABELS, "format": "csv"}, None),
    ("construct as Turtle", {"query": "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } ORDER BY ?s LIMIT 3"}, "text/turtle"),
    ("ask", {"query": "ASK { ?s ?p ?o }"}, JSON),
    ("an unknown dataset graph", {"query": LABELS, "default-graph-uri": "urn:amlkg-test:none"}, JSON),
    ("syntax error", {"query": "SELECT ?s WHERE { ?s ?p }"}, JSON),
    ("SERVICE", {"query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"}, JSON),
    ("not acceptable", {"query": LABELS}, "image/png"),
    ("unsupported function", {"query": "SELECT (<urn:amlkg-test:f>(1) AS ?x) WHERE {}"}, JSON),
])
def test_answered_directly_as_the_app_answers(probe, client, name, form, accept):
    middleware, handed = probe
    form = {**form, "query": fresh(form["query"])}
    status, headers, body = get(middleware, form, accept)
    assert handed == [], "%s went to the app" % name
    expected = via_app(client, form, accept)
    assert status == expected.status_code, (name, body[:300])
    for h in COMPARED_HEADERS:
        assert headers.get(h) == expected.headers.get(h), (name, h)
    if headers.get("Content-Type", "").startswith("application/problem+json"):
        assert json.loads(body) == expected.get_json()
    else:
        assert body == expected.data
        assert headers.get("X-AMLKG-Cache") == "miss"


def test_the_direct_answer_is_cached_for_the_next_get(probe):
    middleware, handed = probe
    form = {"query": fresh(LABELS)}
    first, second = get(middleware, form), get(middleware, form)
    assert first[2] == second[2] and second[1]["X-AMLKG-Cache"] == "hit" and handed == []


@pytest.mark.parametrize("name, form, accept, expected", [
    ("the query page", {"query": LABELS}, "text/html", 200),
    ("an update parameter", {"query": LABELS, "update": "CLEAR ALL"}, JSON, 403),
    ("two queries", {"query": [LABELS, LABELS]}, JSON, 400),
    ("an unknown parameter", {"query": LABELS, "timeout": "1"}, JSON, 200),
    ("no query (the service description has no JSON form)", {"default-graph-uri": "urn:amlkg-test:g"}, JSON, 406),
])
def test_other_requests_go_to_the_app(probe, name, form, accept, expected):
    middleware, handed = probe
    if isinstance(form.get("query"), str):
        form = {**form, "query": fresh(form["query"])}
    status, headers, body = get(middleware, form, accept)
    assert len(handed) == 1, name
    assert status == expected, (name, status)
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_a_query_over_the_limit_goes_to_the_app_and_is_refused(probe, app):
    middleware, handed = probe
    limit = app.extensions["amlkg_sparql"].max_query_bytes
    status, headers, body = get(middleware, {"query": "ASK { ?s ?p ?o } #" + "x" * limit})
    assert handed and status == 414 and json.loads(body)["type"].endswith("/query-too-long")
