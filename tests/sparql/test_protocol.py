"""The /sparql protocol through the Flask test client: forms, datasets, errors, limits, cache, CORS.

Everything here runs in-process against the real graph; test_http.py covers the same endpoint
over real HTTP with real clients.
"""
from __future__ import annotations

import csv
import io
import json

import pytest
import rdflib
from rdflib.compare import isomorphic
from hypothesis import HealthCheck, given, settings, strategies as st

from kg_service import create_app
from kg_service.negotiation import RESULT_MEDIA_TYPES
from kg_service.sparql.guard import MAX_NESTING

JSON = "application/sparql-results+json"
G = "https://w3id.org/amlkg/graph/"
COUNT_ALL = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"


def count(client, query=COUNT_ALL, **params) -> int:
    r = client.get("/sparql", query_string={"query": query, **params}, headers={"Accept": JSON})
    assert r.status_code == 200, r.data
    return int(r.get_json()["results"]["bindings"][0]["n"]["value"])


def problem(r, status):
    assert r.status_code == status, (r.status_code, r.data[:300])
    assert r.mimetype == "application/problem+json"
    body = r.get_json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    return body


# -- the three request shapes ---------------------------------------------------------------------
def test_get_form_post_and_direct_post_agree(client):
    q = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"
    h = {"Accept": JSON}
    a = client.get("/sparql", query_string={"query": q}, headers=h)
    b = client.post("/sparql", data={"query": q}, headers=h)
    c = client.post("/sparql", data=q.encode(), content_type="application/sparql-query", headers=h)
    assert a.status_code == b.status_code == c.status_code == 200
    assert a.get_json() == b.get_json() == c.get_json()
    assert len(a.get_json()["results"]["bindings"]) >= 3


def test_trailing_slash_and_head(client):
    assert client.get("/sparql/", query_string={"query": "ASK {}"}, headers={"Accept": JSON}).status_code == 200
    r = client.head("/sparql", query_string={"query": "ASK {}"}, headers={"Accept": JSON})
    assert r.status_code == 200 and r.data == b""


@pytest.mark.parametrize("media_type", list(RESULT_MEDIA_TYPES))
def test_select_formats(client, media_type):
    r = client.get("/sparql", query_string={"query": "SELECT ?x WHERE { VALUES ?x { 1 2 3 } }"},
                   headers={"Accept": media_type})
    assert r.status_code == 200 and r.mimetype == media_type
    assert r.headers["Vary"] == "Accept"


@pytest.mark.parametrize("media_type, fmt", [
    ("text/turtle", "turtle"), ("application/n-triples", "nt"), ("application/rdf+xml", "xml"),
    ("application/ld+json", "json-ld")])
def test_construct_formats_parse_back_to_the_same_graph(client, store, media_type, fmt):
    q = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <%smeta> { ?s ?p ?o } }" % G
    r = client.get("/sparql", query_string={"query": q}, headers={"Accept": media_type})
    assert r.status_code == 200 and r.mimetype == media_type
    got = rdflib.Graph().parse(data=r.data, format=fmt)
    want = store.construct(q)
    assert len(got) == len(want) > 0
    assert isomorphic(got, want)


def test_format_parameter_overrides_accept(client):
    r = client.get("/sparql", query_string={"query": "SELECT * WHERE {}", "format": "csv"},
                   headers={"Accept": JSON})
    assert r.mimetype == "text/csv"
    r = client.get("/sparql", query_string={"query": "DESCRIBE <%smeta>" % G, "output": "xml"})
    assert r.mimetype == "application/rdf+xml"
    problem(client.get("/sparql", query_string={"query": "SELECT * {}", "format": "turtle"}), 406)


def test_not_acceptable(client):
    body = problem(client.get("/sparql", query_string={"query": "ASK {}"}, headers={"Accept": "image/png"}), 406)
    assert "application/sparql-results+json" in body["available"]


# -- datasets --------------------------------------------------------------------------------------
def test_default_graph_is_the_union_of_named_graphs(client):
    union = count(client, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert union == count(client, "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } } }")


def test_protocol_dataset(client):
    meta = count(client, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <%smeta> { ?s ?p ?o } }" % G)
    assert count(client, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", **{"default-graph-uri": G + "meta"}) == meta
    # named-graph-uri alone: those graphs only, and an empty default graph
    assert count(client, COUNT_ALL, **{"named-graph-uri": G + "meta"}) == meta
    assert count(client, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", **{"named-graph-uri": G + "meta"}) == 0


def test_from_clauses_name_local_graphs(client):
    meta = count(client, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <%smeta> { ?s ?p ?o } }" % G)
    assert count(client, "SELECT (COUNT(*) AS ?n) FROM <%smeta> WHERE { ?s ?p ?o }" % G) == meta
    q = "PREFIX g: <%s> SELECT (COUNT(*) AS ?n) FROM NAMED g:meta WHERE { GRAPH ?g { ?s ?p ?o } }" % G
    assert count(client, q) == meta
    # the protocol's dataset wins over the query's (SPARQL 1.1 Protocol 2.1.4)
    assert count(client, q, **{"named-graph-uri": "urn:x-nothing:here"}) == 0


def test_unknown_graphs_are_empty_never_fetched(client):
    r = client.get("/sparql", query_string={
        "query": "SELECT (COUNT(*) AS ?n) FROM <http://127.0.0.1:9/data.ttl> FROM <file:///etc/passwd> WHERE { ?s ?p ?o }"},
        headers={"Accept": JSON})
    assert r.status_code == 200
    assert r.get_json()["results"]["bindings"][0]["n"]["value"] == "0"
    assert "2 dataset graph(s) not held by this store" in r.headers["X-AMLKG-Warning"]


def test_invalid_graph_iri(client):
    problem(client.get("/sparql", query_string={"query": "ASK {}", "default-graph-uri": "not an iri"}), 400)


def test_service_description_lists_every_named_graph(client, store):
    r = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and r.mimetype == "text/turtle"
    sd = rdflib.Graph().parse(data=r.data, format="turtle")
    SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    names = {str(o) for o in sd.objects(None, SD.name)}
    assert names == set(store.named_graphs())
    # provenance recorded by the build travels with each graph
    prov = rdflib.URIRef("http://www.w3.org/ns/prov#wasDerivedFrom")
    assert any(str(s).startswith(G) for s in sd.subjects(prov, None))


@pytest.mark.parametrize("media_type, fmt", [
    ("text/turtle", "turtle"), ("application/n-triples", "nt"), ("application/rdf+xml", "xml"),
    ("application/ld+json", "json-ld")])
def test_service_description_formats(client, media_type, fmt):
    r = client.get("/sparql", headers={"Accept": media_type})
    assert r.mimetype == media_type
    assert len(rdflib.Graph().parse(data=r.data, format=fmt)) > 20


# -- refusals --------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["direct", "form", "get", "query-param", "load"])
def test_updates_refused_and_data_unchanged(client, how):
    before = count(client)
    ins = 'INSERT DATA { GRAPH <%smeta> { <urn:x:canary> <urn:x:p> "canary" } }' % G
    if how == "direct":
        r = client.post("/sparql", data=ins, content_type="application/sparql-update")
    elif how == "form":
        r = client.post("/sparql", data={"update": ins})
    elif how == "get":
        r = client.get("/sparql", query_string={"update": ins})
    elif how == "query-param":
        r = client.get("/sparql", query_string={"query": ins})
    else:
        r = client.post("/sparql", data={"update": "LOAD <file:///etc/passwd>"})
    assert problem(r, 403)["type"].endswith("update-refused")
    assert count(client) == before
    assert count(client, "SELECT (COUNT(*) AS ?n) WHERE { <urn:x:canary> ?p ?o }") == 0


def test_service_refused(client):
    body = problem(client.get("/sparql", query_string={
        "query": "SELECT * WHERE { ?s ?p ?o.SERVICE <http://127.0.0.1:9/sparql> { ?a ?b ?c } }"}), 400)
    assert "SERVICE" in body["detail"]


def test_syntax_error_names_line_and_column(client):
    q = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\nSELECT ?x WHERE {\n  ?x rdfs:label ?y\n  FILTER(\n}"
    body = problem(client.get("/sparql", query_string={"query": q}), 400)
    assert body["line"] == 5 and body["column"] in (1, 2)   # pyoxigraph points just past the `}`
    assert "line 5, column %d" % body["column"] in body["detail"]
    assert len(body["detail"]) < 400


def test_too_deep(client):
    q = "SELECT * WHERE " + "{" * (MAX_NESTING + 1) + "}" * (MAX_NESTING + 1)
    problem(client.get("/sparql", query_string={"query": q}), 400)


@pytest.mark.parametrize("request_kwargs, status", [
    ({"method": "PUT", "query_string": {"query": "ASK {}"}}, 405),
    ({"method": "DELETE"}, 405),
    ({"method": "GET", "query_string": [("query", "ASK {}"), ("query", "ASK {}")]}, 400),
    ({"method": "POST", "data": "ASK {}", "content_type": "text/plain"}, 415),
    ({"method": "POST", "data": "query=ASK%20%7B%7D"}, 415),
    ({"method": "POST", "data": "ASK {}".encode("utf-16"),
      "content_type": "application/sparql-query; charset=UTF-16"}, 415),
    ({"method": "POST", "data": b"ASK {} \xff", "content_type": "application/sparql-query"}, 400),
    ({"method": "POST", "data": {"format": "json"}}, 400),
    ({"method": "POST", "data": "ASK {}", "content_type": "application/sparql-query",
      "query_string": {"query": "ASK {}"}}, 400),
])
def test_malformed_requests(client, request_kwargs, status):
    problem(client.open("/sparql", **request_kwargs), status)


def test_length_limits():
    app = create_app({"TESTING": True, "KG_STORE": _store_of(), "KG_MAX_QUERY_BYTES": 2000})
    c = app.test_client()
    long_query = "ASK {} #" + "x" * 3000
    problem(c.get("/sparql", query_string={"query": long_query}), 414)
    problem(c.post("/sparql", data=long_query, content_type="application/sparql-query"), 413)
    problem(c.post("/sparql", data={"query": long_query}), 413)
    problem(c.get("/sparql?query=" + "x" * 20_000), 414)      # refused before parsing the URL
    assert c.get("/sparql", query_string={"query": "ASK {} #" + "x" * 1900}).status_code == 200


_STORE = {}


@pytest.fixture(autouse=True)
def _remember_store(store_path):
    _STORE["path"] = store_path


def _store_of():
    return _STORE["path"]


# -- row cap ---------------------------------------------------------------------------------------
@pytest.fixture()
def capped(store_path):
    return create_app({"TESTING": True, "KG_STORE": store_path, "KG_RESULT_ROW_CAP": 7}).test_client()


def _rows(media_type, data):
    if media_type == JSON:
        return len(json.loads(data)["results"]["bindings"])
    if media_type == "application/sparql-results+xml":
        return data.count(b"<result>")
    if media_type == "text/csv":
        return len(list(csv.reader(io.StringIO(data.decode())))) - 1
    return data.decode().count("\n") - 1


@pytest.mark.parametrize("media_type", list(RESULT_MEDIA_TYPES))
def test_row_cap_select(capped, media_type):
    r = capped.get("/sparql", query_string={"query": "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 500"},
                   headers={"Accept": media_type})
    assert r.status_code == 200 and r.headers["X-AMLKG-Truncated"] == "true"
    assert r.headers["X-AMLKG-Row-Cap"] == "7"
    assert _rows(media_type, r.data) == 7
    small = capped.get("/sparql", query_string={"query": "SELECT ?x WHERE { VALUES ?x { 1 2 3 } }"},
                       headers={"Accept": media_type})
    assert "X-AMLKG-Truncated" not in small.headers and _rows(media_type, small.data) == 3


@pytest.mark.parametrize("media_type, fmt", [
    ("text/turtle", "turtle"), ("application/n-triples", "nt"), ("application/rdf+xml", "xml"),
    ("application/ld+json", "json-ld")])
def test_row_cap_construct(capped, media_type, fmt):
    r = capped.get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 300"},
                   headers={"Accept": media_type})
    assert r.headers["X-AMLKG-Truncated"] == "true"
    assert len(rdflib.Graph().parse(data=r.data, format=fmt)) == 7


# -- cache, CORS, page -----------------------------------------------------------------------------
def test_answers_are_cached_per_request(client):
    q = {"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o } # cache test"}
    first = client.get("/sparql", query_string=q, headers={"Accept": JSON})
    again = client.get("/sparql", query_string=q, headers={"Accept": JSON})
    other = client.get("/sparql", query_string=q, headers={"Accept": "text/csv"})
    assert (first.headers["X-AMLKG-Cache"], again.headers["X-AMLKG-Cache"], other.headers["X-AMLKG-Cache"]) \
        == ("miss", "hit", "miss")
    assert first.data == again.data and other.mimetype == "text/csv"


def test_cors(client):
    r = client.get("/sparql", query_string={"query": "ASK {}"}, headers={"Origin": "http://example.com"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    bad = client.get("/sparql", query_string={"query": "ASK {"}, headers={"Origin": "http://example.com"})
    assert bad.headers["Access-Control-Allow-Origin"] == "*"   # errors are readable cross-origin too
    pre = client.options("/sparql", headers={"Origin": "http://example.com",
                                             "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 204
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert pre.headers["Access-Control-Allow-Headers"] == "content-type"


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_browsers_get_the_query_page(client):
    r = client.get("/sparql", headers={"Accept": BROWSER})
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.data.decode()
    assert "<textarea" in html and "PREFIX amlkg: &lt;https://w3id.org/amlkg/&gt;" in html
    assert "https://" not in html.split("<body>")[0].replace("https://w3id.org", "")  # no CDN
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    for asset in ("query.js", "query.css"):
        assert client.get("/sparql/static/" + asset).status_code == 200


def test_query_page_lists_the_named_queries(client):
    from pathlib import Path
    html = client.get("/sparql", headers={"Accept": BROWSER}).data.decode()
    paths = sorted((Path(__file__).resolve().parents[2] / "queries").glob("*.rq"))
    assert paths
    for path in paths:
        assert 'value="%s"' % path.stem in html


def test_query_page_prefill_is_escaped(client):
    q = 'SELECT * WHERE { ?s ?p "</textarea><script>alert(1)</script>" }'
    html = client.get("/sparql", query_string={"query": q}, headers={"Accept": BROWSER}).data.decode()
    assert "&lt;/textarea&gt;&lt;script&gt;" in html and "<script>alert" not in html
    assert 'data-autorun="true"' in html


def test_query_page_survives_a_missing_queries_folder(store_path, tmp_path):
    app = create_app({"TESTING": True, "KG_STORE": store_path, "KG_QUERIES_DIR": str(tmp_path / "none")})
    assert app.test_client().get("/sparql", headers={"Accept": BROWSER}).status_code == 200


# -- never a 500 -----------------------------------------------------------------------------------
_FRAGMENTS = st.sampled_from([
    "SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "{", "}", "(", ")", "?s", "<", ">", "<urn:x>",
    '"', "'", "#", "\n", "FROM", "NAMED", "SERVICE", "FILTER", "1", ".", ";", "*", "\\", "\x00", "é",
    "INSERT", "LOAD", "<<", ">>", "@en", "^^", "PREFIX", "p:", "BASE", "VALUES", "UNDEF", "\ud7ff"])


@given(st.lists(_FRAGMENTS, max_size=25).map(" ".join),
       st.sampled_from([None, "*/*", JSON, "text/turtle", "image/png", "text/html", ";;", "a/b;q=x"]),
       st.sampled_from(["GET", "POST", "DIRECT"]))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_client_mistakes_are_never_500(client, query, accept, how):
    headers = {"Accept": accept} if accept else {}
    if how == "GET":
        r = client.get("/sparql", query_string={"query": query}, headers=headers)
    elif how == "POST":
        r = client.post("/sparql", data={"query": query}, headers=headers)
    else:
        r = client.post("/sparql", data=query.encode("utf-8", "surrogatepass"),
                        content_type="application/sparql-query", headers=headers)
    assert r.status_code < 500, (query, r.data[:300])


def test_fast_path_hit_sends_what_the_app_sends(client):
    q = {"query": "SELECT ?x WHERE { VALUES ?x { 'fast' } }"}
    h = {"Accept": "text/csv", "Origin": "http://example.com"}
    miss = client.get("/sparql", query_string=q, headers=h)
    hit = client.get("/sparql", query_string=q, headers=h)      # answered by CachedAnswers
    assert (miss.headers["X-AMLKG-Cache"], hit.headers["X-AMLKG-Cache"]) == ("miss", "hit")
    assert hit.data == miss.data and hit.content_type == miss.content_type
    for name in ("Vary", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Content-Length"):
        assert hit.headers[name] == miss.headers[name], name
    post = {"query": "SELECT ?x WHERE { VALUES ?x { 'post' } }"}
    assert client.post("/sparql", data=post).headers["X-AMLKG-Cache"] == "miss"
    assert client.post("/sparql", data=post).headers["X-AMLKG-Cache"] == "hit"   # cached in the app


def test_a_rebuild_invalidates_cached_answers(tmp_path):
    import time
    from kg_service.store.embedded import EmbeddedStore
    root = str(tmp_path / "store")
    writer = EmbeddedStore(root, read_only=False)
    writer.publish({G + "x": b'<urn:a> <urn:p> "first" .\n'}, "v1")
    app = create_app({"TESTING": True, "KG_STORE": root, "KG_REFRESH_INTERVAL": 0})
    c = app.test_client()
    q = {"query": "SELECT ?o WHERE { <urn:a> <urn:p> ?o }", "format": "csv"}
    assert c.get("/sparql", query_string=q).data.splitlines()[1] == b"first"
    assert c.get("/sparql", query_string=q).headers["X-AMLKG-Cache"] == "hit"
    time.sleep(0.01)
    writer.publish({G + "x": b'<urn:a> <urn:p> "second" .\n'}, "v2")
    r = c.get("/sparql", query_string=q)
    assert r.headers["X-AMLKG-Cache"] == "miss" and r.data.splitlines()[1] == b"second"
