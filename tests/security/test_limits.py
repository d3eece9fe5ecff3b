"""Denial-of-service limits (kg_service/limits.py): query timeouts on every path, the bound on queries
running at once (503 + Retry-After while cheap requests keep flowing), body and URL size limits on
every route, the per-client rate limit, and CORS."""
from __future__ import annotations

import http.client as httpclient
import json
import threading
import time
import urllib.parse

import pytest

from kg_service.limits import QueryGate, RateLimit, TokenBuckets, get_gate

from .support import TOKEN, ServeProcess, http

PROBLEM = "application/problem+json"
UNCACHED = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o FILTER(STRLEN(STR(?o)) > %d) }"
PATHOLOGICAL = ("SELECT (COUNT(*) AS ?n) WHERE { ?s1 ?p1 ?o1 . ?s2 ?p2 ?o2 . ?s3 ?p3 ?o3 . ?s4 ?p4 ?o4 "
                "FILTER(?s1 != ?o4 || ?p2 != ?p3) }")


def is_problem(resp, status: int) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.data[:300])
    assert resp.mimetype == PROBLEM
    body = resp.get_json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://w3id.org/amlkg/problems/")
    return body


# -- timeouts -----------------------------------------------------------------------------------
def test_api_queries_are_cut_at_the_store_timeout(make_app):
    """The JSON API runs its queries through the served store, whose default timeout is
    KG_QUERY_TIMEOUT: an answer that is not ready in time is a 504 problem, not a hung request."""
    app = make_app(KG_QUERY_TIMEOUT=1e-6, KG_CACHE_ENTRIES=0)
    client = app.test_client()
    resp = client.get("/api/options?status=relapsed&mutations=IDH1")
    body = is_problem(resp, 504)
    assert body["type"].endswith("query-timeout") and "Retry-After" not in resp.headers
    assert app.extensions["amlkg_store"].get().default_timeout == 1e-6


def test_sparql_queries_are_cut_at_the_store_timeout(make_app):
    app = make_app(KG_QUERY_TIMEOUT=1e-6, KG_CACHE_ENTRIES=0)
    resp = app.test_client().get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"},
                                 headers={"Accept": "application/sparql-results+json"})
    body = is_problem(resp, 504)
    assert body["type"].endswith("query-timeout") and "Retry-After" not in resp.headers


# -- the query gate -----------------------------------------------------------------------------
def test_gate_unit():
    gate = QueryGate(2, wait=0.05, retry_after=7)
    gate.acquire()
    gate.acquire()
    t0 = time.monotonic()
    with pytest.raises(Exception) as e:
        gate.acquire()
    assert 0.04 <= time.monotonic() - t0 < 1.0          # waited the queue time, then gave up
    assert e.value.retry_after == 7 and gate.refused == 1
    gate.release()
    gate.acquire()                                        # a freed slot is taken again
    assert gate.running == 2


def test_busy_worker_answers_503_with_retry_after_while_cheap_requests_flow(make_app):
    """With every query slot taken, queries that need the store wait KG_QUERY_QUEUE_SECONDS and get a
    503 problem with Retry-After; cached SPARQL answers, cached API answers, /health and static files
    do not need a slot and are answered at once."""
    app = make_app(KG_MAX_CONCURRENT_QUERIES=1, KG_QUERY_QUEUE_SECONDS=0.1, KG_RETRY_AFTER=3)
    client = app.test_client()
    cached_q = {"query": "SELECT ?s WHERE { ?s a ?c } LIMIT 3"}
    accept = {"Accept": "application/sparql-results+json"}
    assert client.get("/sparql", query_string=cached_q, headers=accept).status_code == 200
    assert client.get("/api/options?status=relapsed").status_code == 200   # warms the API cache
    gate = get_gate(app)
    gate.acquire()                                                          # a long query holds the slot
    try:
        for resp in (client.get("/sparql", query_string={"query": UNCACHED % 5}, headers=accept),
                     client.get("/api/options?status=refractory&mutations=FLT3,IDH1")):  # not read ahead
            body = is_problem(resp, 503)
            assert resp.headers["Retry-After"] == "3", body
        t0 = time.perf_counter()
        assert client.get("/sparql", query_string=cached_q, headers=accept).headers["X-AMLKG-Cache"] == "hit"
        assert client.get("/api/options?status=relapsed").status_code == 200
        assert client.get("/health").status_code == 200
        assert client.get("/sparql/static/query.css").status_code == 200
        assert time.perf_counter() - t0 < 0.1                              # none of them queued
    finally:
        gate.release()
    assert client.get("/sparql", query_string={"query": UNCACHED % 5}, headers=accept).status_code == 200
    assert gate.running == 0 and gate.refused == 2


def test_gate_over_http_with_a_pathological_query(own_store):
    """A real server, one worker, one query slot: a pathological query holds the slot until it is cut;
    meanwhile another uncached query is answered 503 + Retry-After, and cached queries and /health at
    once (under 200 ms even on a loaded test machine)."""
    env = {"KG_MAX_CONCURRENT_QUERIES": "1", "KG_QUERY_QUEUE_SECONDS": "0.2", "KG_QUERY_TIMEOUT": "3",
           "KG_REQUEST_LOG": "off"}
    with ServeProcess(own_store, env=env, workers=1).start() as server:
        cached = server.url + "/sparql?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"})
        assert http("GET", cached)[0] == 200
        slow = {}
        t = threading.Thread(target=lambda: slow.update(r=http(
            "GET", server.url + "/sparql?" + urllib.parse.urlencode({"query": PATHOLOGICAL}),
            headers={"Accept": "application/sparql-results+json"})))
        t.start()
        time.sleep(1.0)
        status, headers, body = http("GET", server.url + "/sparql?" + urllib.parse.urlencode(
            {"query": UNCACHED % 7}), headers={"Accept": "application/sparql-results+json"})
        assert status == 503 and headers["Retry-After"] and json.loads(body)["type"].endswith("overloaded")
        for url in (cached, server.url + "/health"):
            t0 = time.perf_counter()
            assert http("GET", url)[0] == 200
            assert time.perf_counter() - t0 < 0.2
        t.join(30)
        assert slow["r"][0] == 504 and json.loads(slow["r"][2])["type"].endswith("query-timeout")
        assert "Retry-After" not in slow["r"][1]  # it would run out of time again: no retry advised
        # the runaway evaluation keeps its slot until its worker is replaced; then queries run again
        deadline = time.monotonic() + 30
        while True:
            status = http("GET", server.url + "/sparql?" + urllib.parse.urlencode(
                {"query": UNCACHED % 9}), headers={"Accept": "application/sparql-results+json"})[0]
            if status == 200 or time.monotonic() > deadline:
                break
            assert status == 503
            time.sleep(0.5)
        assert status == 200


# -- body and URL sizes -------------------------------------------------------------------------
BIG = 2000


@pytest.mark.parametrize("method, path, ctype", [
    ("POST", "/sparql", "application/x-www-form-urlencoded"),
    ("POST", "/sparql", "application/sparql-query"),
    ("POST", "/api/options", "application/json"),
    ("POST", "/curator/update", "application/sparql-update"),
    ("PUT", "/curator/graph", "text/turtle"),
    ("POST", "/health", "application/json"),
    ("POST", "/no/such/route", "application/octet-stream"),
    ("POST", "/", "application/x-www-form-urlencoded"),
])
def test_every_route_refuses_an_oversized_body_with_413(make_app, method, path, ctype):
    app = make_app(KG_MAX_BODY_BYTES=1000, KG_CURATOR_TOKEN=TOKEN)
    resp = app.test_client().open(path, method=method, data=b"x" * BIG, content_type=ctype,
                                  headers={"Authorization": "Bearer " + TOKEN})
    body = is_problem(resp, 413)
    assert "1000" in body["detail"]


def test_a_chunked_body_without_length_is_cut_at_the_limit(live_server):
    """No Content-Length (chunked): the body is read only up to KG_MAX_BODY_BYTES, then 413."""
    conn = httpclient.HTTPConnection("127.0.0.1", live_server.port, timeout=30)
    chunk = b"[" + b"1," * 100_000 + b"1]"

    def body():
        for _ in range(30):       # ~6 MB, more than the 4 MB default
            yield chunk
    conn.request("POST", "/api/options", body=body(), headers={"Content-Type": "application/json"},
                 encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 413 and resp.getheader("Content-Type") == PROBLEM
    conn.close()


def test_long_urls_outside_sparql_are_414(make_app):
    client = make_app(KG_MAX_URL_BYTES=1000).test_client()
    body = is_problem(client.get("/api/search?q=" + "a" * 2000), 414)
    assert "1000" in body["detail"]
    assert client.get("/api/search?q=ivosidenib").status_code == 200


# -- rate limit ---------------------------------------------------------------------------------
def test_token_buckets_refill():
    b = TokenBuckets(rate=10, burst=2)
    assert [b.take("c", now=0.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.1)]
    assert b.take("c", now=0.1) == 0.0


def test_rate_limit_per_client_429_with_retry_after(make_app):
    app = make_app(KG_RATE_LIMIT=2, KG_RATE_LIMIT_BURST=3)
    remote = app.test_client()
    remote.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.8"
    statuses = [remote.get("/api/queries").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    resp = remote.get("/sparql?query=ASK%7B%7D")
    assert resp.status_code == 429 and resp.mimetype == PROBLEM and int(resp.headers["Retry-After"]) >= 1
    assert resp.get_json()["type"].endswith("rate-limited")
    assert remote.get("/health").status_code == 200          # monitoring is never limited
    assert other.get("/api/queries").status_code == 200      # buckets are per client


def test_rate_limit_is_off_for_loopback_by_default(make_app):
    client = make_app(KG_RATE_LIMIT=1, KG_RATE_LIMIT_BURST=1).test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    assert {client.get("/api/queries").status_code for _ in range(10)} == {200}
    strict = make_app(KG_RATE_LIMIT=1, KG_RATE_LIMIT_BURST=1, KG_RATE_LIMIT_LOOPBACK=True).test_client()
    strict.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    assert [strict.get("/api/queries").status_code for _ in range(2)] == [200, 429]


def test_rate_limit_zero_installs_nothing(make_app):
    app = make_app(KG_RATE_LIMIT=0)
    layer, seen = app.wsgi_app, []
    while layer is not None:
        seen.append(type(layer).__name__)
        layer = getattr(layer, "wsgi_app", None) if not hasattr(layer, "__self__") else None
    assert "RateLimit" not in seen
    layer, seen = make_app(KG_RATE_LIMIT=5).wsgi_app, []
    while layer is not None:  # (the compression layer wraps it)
        seen.append(layer)
        layer = getattr(layer, "wsgi_app", None) if not hasattr(layer, "__self__") else None
    assert any(isinstance(layer, RateLimit) for layer in seen)


# -- CORS ---------------------------------------------------------------------------------------
def test_cors_is_open_for_reads_and_absent_for_curator_writes(make_app):
    client = make_app(KG_CURATOR_TOKEN=TOKEN).test_client()
    origin = {"Origin": "https://evil.example"}
    sparql = client.get("/sparql?query=ASK%7B%7D", headers=origin)
    assert sparql.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in sparql.headers   # never with cookies/credentials
    for resp in (client.post("/curator/update", data="x", content_type="application/sparql-update",
                             headers={**origin, "Authorization": "Bearer " + TOKEN}),
                 client.options("/curator/update", headers={**origin, "Access-Control-Request-Method": "POST"})):
        assert "Access-Control-Allow-Origin" not in resp.headers
