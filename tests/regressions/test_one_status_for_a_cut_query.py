"""Regression (issue 15, item 8): a query cut at its time limit was 503 with Retry-After on /sparql,
504 on /api, and a 503 "unavailable" page on the pages. It is now one meaning everywhere: 504 with the
problem type `query-timeout` and no Retry-After (the same query would run out of time again); 503 with
Retry-After stays for "busy, retry" (the concurrency gate, an unreachable store).

Served over real HTTP (the real app behind werkzeug's server on loopback: a timeout this short would
also cut the server's own readiness check)."""
from __future__ import annotations

import json
import threading
import urllib.parse

import pytest
from werkzeug.serving import make_server

from tests.security.support import http

PROBLEM = "application/problem+json"
# ~0.1 s of work (a bounded cross product): never done before a deadline of 1 ns is checked
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { { SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } LIMIT 200000 } }"
ROUTES = [
    "/sparql?" + urllib.parse.urlencode({"query": SLOW}),   # the direct GET path
    "/api/options?status=relapsed&mutations=IDH1",
    "/api/queries/recommendations",
    "/api/entities/Ivosidenib",
    "/api/search?q=ivosidenib",
    "/",
    "/entity/Ivosidenib",
    "/pathway.svg",
]


@pytest.fixture()
def base(store_path):
    from kg_service import create_app
    app = create_app({"TESTING": True, "KG_STORE": store_path, "KG_REQUEST_LOG": "off",
                      "KG_QUERY_TIMEOUT": 1e-9, "KG_CACHE_ENTRIES": 0})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_port
    server.shutdown()


@pytest.mark.parametrize("route", ROUTES)
def test_a_cut_query_is_504_query_timeout_everywhere(base, route):
    status, headers, body = http("GET", base + route, headers={"Accept": "application/json, */*;q=0.1"})
    assert status == 504, (route, status, body[:300])
    assert "Retry-After" not in headers
    assert headers["Content-Type"].startswith(PROBLEM)
    doc = json.loads(body)
    assert doc["status"] == 504 and doc["type"] == "https://w3id.org/amlkg/problems/query-timeout", doc


def test_a_cut_query_posted_to_sparql_is_504(base):
    status, headers, body = http("POST", base + "/sparql", data=SLOW.encode(),
                                 headers={"Content-Type": "application/sparql-query"})
    assert status == 504 and "Retry-After" not in headers
    assert json.loads(body)["type"].endswith("/query-timeout")


@pytest.mark.parametrize("route", ["/", "/entity/Ivosidenib"])
def test_a_browser_gets_the_same_504_as_a_page(base, route):
    status, headers, body = http("GET", base + route, headers={"Accept": "text/html,*/*;q=0.8"})
    assert status == 504 and headers["Content-Type"].startswith("text/html")
    assert "Retry-After" not in headers
    assert b"took too long" in body and b"try again in a few seconds" not in body
