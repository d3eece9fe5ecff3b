"""Regression: a query calling a function the store does not implement (found by the random-SPARQL fuzz:
``FILTER(XSD:DATE('X') = 1)`` after ``PREFIX XSD: <HTTP://WWW.W3.ORG/2001/xmlsCHEMA#>``) made pyoxigraph
raise RuntimeError while evaluating, which /sparql answered 500. It is a client error: 400 problem+json."""
from __future__ import annotations


def test_an_unsupported_function_is_a_400_problem(client):
    for query in ("ASK { ?s ?p ?o FILTER(<http://example.org/f>(1) = 1) }",
                  "PREFIX XSD: <HTTP://WWW.W3.ORG/2001/xmlsCHEMA#> "
                  "ASK { ?S <http://www.w3.org/2000/01/rdf-schema#label> ?S . FILTER(XSD:DATE('X') = 1) }"):
        r = client.get("/sparql", query_string={"query": query},
                       headers={"Accept": "application/sparql-results+json"})
        assert r.status_code == 400, r.data
        assert r.mimetype == "application/problem+json"
        assert r.get_json()["type"].endswith("query-evaluation")
        assert "is not supported" in r.get_json()["detail"]
