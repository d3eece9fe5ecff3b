"""kg_service.negotiation: Accept parsing, q-values, aliases, format names, query forms (no HTTP)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from kg_service import negotiation as n

RESULTS = n.offers_for("SELECT")
GRAPHS = n.offers_for("CONSTRUCT")
RESULTS_HTML = n.offers_for("SELECT", html=True)


@pytest.mark.parametrize("accept, want", [
    (None, n.SPARQL_JSON),
    ("", n.SPARQL_JSON),
    ("*/*", n.SPARQL_JSON),
    ("application/sparql-results+xml", n.SPARQL_XML),
    ("application/sparql-results+xml;q=0.4, application/sparql-results+json;q=0.9", n.SPARQL_JSON),
    ("text/csv;q=0.5, text/tab-separated-values", n.TSV),
    ("text/*", n.CSV),                                   # server order breaks the tie
    ("application/json", n.SPARQL_JSON),                 # alias, answered with the canonical type
    ("application/xml", n.SPARQL_XML),
    ("text/xml;q=0.2, text/csv;q=0.1", n.SPARQL_XML),
    ("application/sparql-results+json;q=0, */*", n.SPARQL_XML),  # q=0 means "not this one"
    ("APPLICATION/SPARQL-RESULTS+XML", n.SPARQL_XML),    # media types are case-insensitive
    # SPARQLWrapper's JSON request
    ("application/sparql-results+json,application/json,text/javascript,application/javascript", n.SPARQL_JSON),
])
def test_results_negotiation(accept, want):
    assert n.negotiate(accept, *RESULTS) == want


@pytest.mark.parametrize("accept, want", [
    (None, n.TURTLE),
    ("application/n-triples", n.NTRIPLES),
    ("application/rdf+xml", n.RDF_XML),
    ("application/ld+json", n.JSON_LD),
    ("application/json", n.JSON_LD),
    ("application/turtle,text/turtle", n.TURTLE),        # SPARQLWrapper's Turtle request
    ("text/plain", n.NTRIPLES),
    ("application/xml;q=0.9, text/turtle;q=0.5", n.RDF_XML),
])
def test_graph_negotiation(accept, want):
    assert n.negotiate(accept, *GRAPHS) == want


def test_browsers_get_html_and_tools_get_data():
    chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
    firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert n.negotiate(chromium, *RESULTS_HTML) == n.HTML
    assert n.negotiate(firefox, *RESULTS_HTML) == n.HTML
    assert n.negotiate("*/*", *RESULTS_HTML) == n.SPARQL_JSON        # curl
    assert n.negotiate(None, *RESULTS_HTML) == n.SPARQL_JSON          # no Accept at all
    assert n.negotiate("application/sparql-results+json", *RESULTS_HTML) == n.SPARQL_JSON


@pytest.mark.parametrize("accept", ["image/png", "text/html;q=0, image/*", "application/sparql-results+json;q=0"])
def test_nothing_acceptable(accept):
    with pytest.raises(n.NotAcceptable) as e:
        n.negotiate(accept, *RESULTS)
    assert n.SPARQL_JSON in e.value.offered


def test_a_more_specific_range_overrides_a_wildcard():
    # text/csv is refused outright although text/* is welcome
    assert n.negotiate("text/*, text/csv;q=0", *RESULTS) == n.TSV


def test_malformed_accept_headers_do_not_fail():
    for accept in (";;;", "text", "/", "text/", "q=1", "*/*;q=abc", ",,,", "a/b/c;q=0.5", "\x00/\x01"):
        n.parse_accept(accept)
    assert n.negotiate("text, */*;q=abc", *RESULTS) == n.SPARQL_JSON


@given(st.text(max_size=120))
@settings(max_examples=300, deadline=None)
def test_any_accept_header_gives_an_offered_type_or_not_acceptable(accept):
    try:
        assert n.negotiate(accept, *RESULTS_HTML) in RESULTS_HTML[0]
    except n.NotAcceptable:
        pass


@pytest.mark.parametrize("name, form, want", [
    ("json", "SELECT", n.SPARQL_JSON), ("xml", "ASK", n.SPARQL_XML), ("csv", "SELECT", n.CSV),
    ("tsv", "SELECT", n.TSV), ("JSON", "SELECT", n.SPARQL_JSON), ("html", "SELECT", n.HTML),
    ("turtle", "CONSTRUCT", n.TURTLE), ("ttl", "DESCRIBE", n.TURTLE), ("n3", "CONSTRUCT", n.TURTLE),
    ("ntriples", "CONSTRUCT", n.NTRIPLES), ("rdf", "CONSTRUCT", n.RDF_XML), ("xml", "CONSTRUCT", n.RDF_XML),
    ("json-ld", "CONSTRUCT", n.JSON_LD), ("json", "CONSTRUCT", n.JSON_LD),
    ("text/csv", "SELECT", n.CSV), ("application/json", "SELECT", n.SPARQL_JSON),
    ("csv", "CONSTRUCT", None), ("turtle", "SELECT", None), ("bogus", "SELECT", None),
])
def test_format_override(name, form, want):
    assert n.format_override(name, form) == want


@pytest.mark.parametrize("text, form", [
    ("SELECT * WHERE { ?s ?p ?o }", "SELECT"),
    ("select*{}", "SELECT"),
    ("ASK{}", "ASK"),
    ("PREFIX : <http://example.org/>\nPREFIX ex:<http://example.org/#>\nCONSTRUCT WHERE { ?s ?p ?o }", "CONSTRUCT"),
    ("# a comment with SELECT\n# and ASK\nDESCRIBE <http://example.org/>", "DESCRIBE"),
    ("BASE <http://example.org/>\r\nPREFIX p: <x#>   ask {}", "ASK"),
    ("\ufeffSELECT * {}", None),   # a byte-order mark is not SPARQL
    ("INSERT DATA { <a> <b> <c> }", "INSERT"),
    ("DELETE WHERE { ?s ?p ?o }", "DELETE"),
    ("LOAD <file:///etc/passwd>", "LOAD"),
    ("CLEAR ALL", "CLEAR"), ("DROP GRAPH <g>", "DROP"), ("WITH <g> DELETE {} WHERE {}", "WITH"),
    ("PREFIX x: <y> copy <a> TO <b>", "COPY"),
    ("", None), ("   ", None), ("hello world", None), ("PREFIX x: <unterminated SELECT", None),
])
def test_query_form(text, form):
    assert n.query_form(text) == form


def test_query_form_is_linear_on_hostile_prologues():
    import time
    hostile = "#" * 200_000 + "\n" + "PREFIX a: <b> " * 20_000 + " " * 200_000 + "X"
    t0 = time.perf_counter()
    assert n.query_form(hostile) is None
    assert time.perf_counter() - t0 < 1.0


def test_update_forms():
    assert all(n.is_update(f) for f in n.UPDATE_FORMS)
    assert not any(n.is_update(f) for f in n.QUERY_FORMS + (None,))
