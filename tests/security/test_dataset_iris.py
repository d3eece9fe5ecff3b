"""Bad dataset IRIs are a 400 problem+json (`invalid-graph-iri`, naming where the IRI came from) in every
place one can come from: FROM and FROM NAMED in the query text, the protocol's default-graph-uri and
named-graph-uri (GET, form POST, direct POST), and the curator's `graph` parameter; over real HTTP, on
both store backends. A header built from request input is bounded (300 bytes) and marked as cut."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from kg_service.sparql.protocol import CUT_MARK, MAX_HEADER_BYTES

from .support import TOKEN, ServeProcess, copy_store, http

PROBLEM = "application/problem+json"
JSON_RESULTS = "application/sparql-results+json"
BAD_IRIS = [
    "http://x/%", "http://x/%zz", "http://x/%2",          # broken percent-escapes
    "http://x/a\u007fb", "http://x/\u0085", "http://x/\u009f",   # controls U+007F-U+009F
    "http://x/\ufdd0", "http://x/\ufffe", "http://x/\U0010ffff",  # noncharacters
    "http://x/\ue000", "http://x/\U000f0000",             # private use (outside the query part)
    "http://x/a b", "http://x/\u0000", "no-scheme", "",    # a space, NUL, relative, empty
]
GOOD = "https://w3id.org/amlkg/graph/meta"   # a graph every build holds


def is_invalid_iri(status, headers, body, where: str) -> None:
    assert status == 400, (where, status, body[:300])
    assert headers.get("Content-Type", "").startswith(PROBLEM)
    doc = json.loads(body)
    assert doc["type"].endswith("/invalid-graph-iri") and doc["parameter"] == where, doc
    assert len(body) < 2000


def sparql_three_ways(base: str, query: str, params: list[tuple[str, str]]):
    """The same request as a GET, a form POST and a direct POST (parameters in the URL)."""
    accept = {"Accept": JSON_RESULTS}
    yield http("GET", base + "/sparql?" + urllib.parse.urlencode([("query", query)] + params), headers=accept)
    yield http("POST", base + "/sparql", data=urllib.parse.urlencode([("query", query)] + params).encode(),
               headers={**accept, "Content-Type": "application/x-www-form-urlencoded"})
    yield http("POST", base + "/sparql?" + urllib.parse.urlencode(params), data=query.encode(),
               headers={**accept, "Content-Type": "application/sparql-query"})


@pytest.mark.parametrize("iri", BAD_IRIS, ids=ascii)
def test_bad_protocol_dataset_iris_are_400(live_server, iri):
    for name in ("default-graph-uri", "named-graph-uri"):
        for answer in sparql_three_ways(live_server.url, "ASK { ?s ?p ?o }", [(name, GOOD), (name, iri)]):
            is_invalid_iri(*answer, where=name)


# (a relative IRI in FROM is resolved against the endpoint, as SPARQL says: not an error there)
@pytest.mark.parametrize("iri", [i for i in BAD_IRIS if i and " " not in i and "\u0000" not in i and ":" in i],
                         ids=ascii)
def test_bad_from_iris_in_the_query_are_400(live_server, iri):
    for clause in ("FROM", "FROM NAMED"):
        query = "ASK %s <%s> { ?s ?p ?o }" % (clause, iri)
        for answer in sparql_three_ways(live_server.url, query, []):
            is_invalid_iri(*answer, where=clause)


def test_a_percent_escaped_percent_in_named_graph_uri_is_400(live_server):
    """`named-graph-uri=http://x/%25` decodes to http://x/%: the report that opened issue 15."""
    status, headers, body = http("GET", live_server.url + "/sparql?query=ASK%7B%7D&named-graph-uri=http://x/%25",
                                 headers={"Accept": JSON_RESULTS})
    is_invalid_iri(status, headers, body, "named-graph-uri")


def test_good_dataset_iris_still_work(live_server):
    for answer in sparql_three_ways(live_server.url, "ASK { ?s ?p ?o }", [("default-graph-uri", GOOD)]):
        assert answer[0] == 200 and json.loads(answer[2])["boolean"] is True
    status, _h, body = http("GET", live_server.url + "/sparql?" + urllib.parse.urlencode(
        {"query": "ASK FROM <https://w3id.org/amlkg/graph/\\u006deta> { ?s ?p ?o }"}), headers={"Accept": JSON_RESULTS})
    assert status == 200 and json.loads(body)["boolean"] is True   # \u escapes are read as the parser reads them


def test_a_huge_dataset_iri_gives_a_bounded_warning_header(live_server):
    """A 900 KB graph IRI this store does not hold is taken as empty; the warning that says so is at most
    MAX_HEADER_BYTES and ends with the cut mark (it was echoed whole, 900 KB, which clients refuse)."""
    huge = "http://example.org/" + "a" * 900_000
    form = urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }", "default-graph-uri": huge}).encode()
    status, headers, body = http("POST", live_server.url + "/sparql", data=form,
                                 headers={"Accept": JSON_RESULTS, "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, body[:300]
    warning = headers["X-AMLKG-Warning"]
    assert len(warning.encode("latin-1")) <= MAX_HEADER_BYTES and warning.endswith(CUT_MARK)
    assert json.loads(body)["boolean"] is False


def test_every_header_echoing_request_input_is_bounded(live_server):
    """The CORS preflight echoes the asked header names: bounded too (cut after a whole name)."""
    asked = ", ".join("X-Header-%d" % i for i in range(2000))
    status, headers, _body = http("OPTIONS", live_server.url + "/sparql",
                                  headers={"Origin": "http://127.0.0.1:1", "Access-Control-Request-Method": "POST",
                                           "Access-Control-Request-Headers": asked})
    assert status == 204
    allowed = headers.get("Access-Control-Allow-Headers", "")
    assert len(allowed) <= MAX_HEADER_BYTES and asked.startswith(allowed)
    for answer in sparql_three_ways(live_server.url, "ASK { ?s ?p ?o }", [("default-graph-uri", "http://x/%")]):
        assert all(len(v) <= MAX_HEADER_BYTES for _k, v in answer[1].items())


@pytest.fixture(scope="module")
def curator_server(store_path, tmp_path_factory):
    store = copy_store(store_path, tmp_path_factory.mktemp("iris") / "store")
    s = ServeProcess(store, env={"KG_CURATOR_TOKEN": TOKEN, "KG_REQUEST_LOG": "off", "KG_RATE_LIMIT": "0"}).start()
    yield s
    s.stop()


@pytest.mark.parametrize("iri", BAD_IRIS, ids=ascii)
def test_bad_curator_graph_iris_are_400(curator_server, iri):
    auth = {"Authorization": "Bearer " + TOKEN}
    url = curator_server.url + "/curator/graph?" + urllib.parse.urlencode({"graph": iri})
    is_invalid_iri(*http("GET", url, headers=auth), where="graph")
    is_invalid_iri(*http("PUT", url, data=b"<urn:a> <urn:b> <urn:c> .",
                         headers={**auth, "Content-Type": "application/n-triples"}), where="graph")
    is_invalid_iri(*http("DELETE", url, headers=auth), where="graph")


def test_bad_graph_iris_in_a_curator_update_are_400(curator_server):
    auth = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/sparql-update"}
    for iri in ("http://x/%", "http://x/\u0085", "http://x/\ue000"):
        for text in ("INSERT DATA { GRAPH <%s> { <urn:a> <urn:b> 1 } }" % iri,
                     "WITH <%s> INSERT { <urn:a> <urn:b> 1 } WHERE {}" % iri):
            status, headers, body = http("POST", curator_server.url + "/curator/update", data=text.encode(),
                                         headers=auth)
            assert status == 400 and headers["Content-Type"].startswith(PROBLEM), (text, status, body[:300])
