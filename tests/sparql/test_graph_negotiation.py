"""Negotiation for graph answers over real HTTP, checked with rdflib: N-Quads and TriG for CONSTRUCT and
DESCRIBE, Accept winning over an unknown `format=`, and 406s that list what the query form offers."""
from __future__ import annotations

import pytest
import rdflib
import requests
from rdflib.compare import isomorphic

from kg_service.negotiation import RDF_MEDIA_TYPES, RESULT_MEDIA_TYPES

CONSTRUCT = ("CONSTRUCT { ?r ?p ?o } WHERE { GRAPH <https://w3id.org/amlkg/graph/acs2022> { ?r a "
             "<https://w3id.org/amlkg/Recommendation> ; ?p ?o } }")
DESCRIBE = "DESCRIBE <https://w3id.org/amlkg/Ivosidenib>"


def sparql(url, query, accept=None, **params):
    headers = {"Accept": accept} if accept else {}
    return requests.get(url + "/sparql", params={"query": query, **params}, headers=headers, timeout=60)


def as_graph(body: bytes, fmt: str) -> rdflib.Graph:
    if fmt in ("nquads", "trig"):
        ds = rdflib.Dataset()
        ds.parse(data=body, format=fmt)
        g = rdflib.Graph()
        for s, p, o, _ in ds.quads((None, None, None, None)):
            g.add((s, p, o))
        return g
    g = rdflib.Graph()
    g.parse(data=body, format=fmt)
    return g


@pytest.mark.parametrize("query", [CONSTRUCT, DESCRIBE], ids=["construct", "describe"])
@pytest.mark.parametrize("accept,fmt", [("application/n-quads", "nquads"), ("application/trig", "trig")])
def test_graph_answers_as_n_quads_and_trig(live_server, query, accept, fmt):
    reference = sparql(live_server.url, query, "application/n-triples")
    answer = sparql(live_server.url, query, accept)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(accept)
    expected = as_graph(reference.content, "nt")
    got = as_graph(answer.content, fmt)
    assert len(got) == len(expected) > 0 and isomorphic(got, expected)
    # the short names work as format= too
    named = sparql(live_server.url, query, None, format={"nquads": "nquads", "trig": "trig"}[fmt])
    assert named.status_code == 200 and named.headers["Content-Type"].startswith(accept)


def test_accept_wins_over_an_unknown_format(live_server):
    r = sparql(live_server.url, "ASK {}", "application/sparql-results+xml", format="yaml")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/sparql-results+xml")
    r = sparql(live_server.url, CONSTRUCT, "text/turtle", format="bogus")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/turtle")
    assert len(as_graph(r.content, "turtle")) > 0
    # a known format= still overrides Accept
    r = sparql(live_server.url, CONSTRUCT, "text/turtle", format="ntriples")
    assert r.headers["Content-Type"].startswith("application/n-triples")
    # an unknown format= with nothing else asked for is refused, naming what there is
    r = sparql(live_server.url, "ASK {}", None, format="yaml")
    assert r.status_code == 406 and "format=yaml" in r.json()["detail"]


@pytest.mark.parametrize("query,form,offered", [
    ("ASK {}", "an ASK query", RESULT_MEDIA_TYPES),
    ("SELECT * WHERE { ?s ?p ?o } LIMIT 1", "a SELECT query", RESULT_MEDIA_TYPES),
    (CONSTRUCT, "a CONSTRUCT query", RDF_MEDIA_TYPES),
    (DESCRIBE, "a DESCRIBE query", RDF_MEDIA_TYPES),
])
def test_406_lists_what_the_query_form_offers_in_plain_english(live_server, query, form, offered):
    r = sparql(live_server.url, query, "image/png")
    assert r.status_code == 406 and r.headers["Content-Type"].startswith("application/problem+json")
    problem = r.json()
    assert form in problem["detail"] and " a ASK" not in problem["detail"]
    assert problem["available"] == list(offered)
    for media_type in offered:
        assert media_type in problem["detail"]


def test_service_description_lists_n_quads_and_trig(live_server):
    r = requests.get(live_server.url + "/sparql", headers={"Accept": "text/turtle"}, timeout=30)
    g = rdflib.Graph()
    g.parse(data=r.content, format="turtle")
    formats = set(g.objects(None, rdflib.URIRef("http://www.w3.org/ns/sparql-service-description#resultFormat")))
    assert {rdflib.URIRef("http://www.w3.org/ns/formats/N-Quads"),
            rdflib.URIRef("http://www.w3.org/ns/formats/TriG")} <= formats
